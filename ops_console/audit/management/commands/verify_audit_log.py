"""manage.py verify_audit_log [--witness FILE]: prove the audit log was not
edited; exit 1 and name the first entry that does not match otherwise (2 when
it cannot tell: no chain key, an unreadable witness file)."""
import time

from django.core.management.base import BaseCommand, CommandError

from ops_console.audit import witness
from ops_console.audit.chain import verify
from ops_console.audit.sealing import MissingKey


class Command(BaseCommand):
    help = ("Walk the audit log's hash chain, check each entry's seal with the chain key, and name the first entry "
            "that does not match; with --witness, also every head the witness file saw.")

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=5000)
        parser.add_argument("--witness", metavar="FILE",
                            help="a witness file (AUDIT_WITNESS_FILE): every head in it must still be in the chain")

    def handle(self, *args, chunk_size, witness=None, **options):
        started = time.monotonic()
        try:
            heads = witness_heads(witness) if witness else ()
            verdict = verify(chunk_size=chunk_size, witness=heads)
        except MissingKey as exc:
            raise CommandError(f"audit log NOT verified: {exc}", returncode=2) from exc
        if not verdict.ok:
            raise CommandError(f"audit log verification FAILED: {verdict.problem}", returncode=1)
        span = f"entries {verdict.first_id}..{verdict.last_id}" if verdict.checked else "no entries"
        self.stdout.write(f"audit log OK: {verdict.checked} entries verified ({span}, {verdict.sealed} sealed with "
                          f"the chain key) in {time.monotonic() - started:.1f}s")
        if witness:
            newest = verdict.last_witness
            self.stdout.write(f"witness OK: {verdict.witnessed} heads in {witness} are in the chain as witnessed"
                              + (f"; nothing up to entry {newest.id} (witnessed at {newest.at}) changed"
                                 if newest else ""))
        # Kept somewhere else (a ticket, a log), the head proves later that nothing before it changed.
        self.stdout.write(f"chain head: {verdict.last_hash}")


def witness_heads(path):
    try:
        return witness.read(path)
    except (OSError, witness.WitnessFileError) as exc:
        raise CommandError(f"audit log NOT verified: cannot read the witness: {exc}", returncode=2) from exc
