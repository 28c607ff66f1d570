"""Walk the hash chain and find the first entry that does not match, reading
plain values in id order so a million rows take seconds, not minutes. Sealed
entries are checked with the chain key; witnessed heads, when given, must be
where the witness saw them."""
from collections import deque
from dataclasses import dataclass

from . import sealing
from .models import GENESIS, HASHED_FIELDS, AuditEntry, ChainHead, hash_of


@dataclass
class Verdict:
    checked: int = 0
    first_id: int | None = None
    last_id: int | None = None
    bad_id: int | None = None
    problem: str = ""
    last_hash: str = GENESIS
    sealed: int = 0
    witnessed: int = 0  # witness lines that matched
    last_witness: object = None

    @property
    def ok(self):
        return not self.problem


def verify(chunk_size=5000, witness=()):
    """witness: Witnessed heads (witness.read()); each must be in the chain with its hash.
    Raises sealing.MissingKey when sealed entries meet a verifier without the key."""
    verdict = Verdict()
    pending = deque(sorted(witness, key=lambda head: head.id))  # stable: file order within one id
    expected_prev = GENESIS
    sealed_since = None  # the first sealed entry: none after it may come without a seal
    keys = None
    matched_id = None  # the newest witnessed entry found as witnessed
    rows = AuditEntry.objects.order_by("id").values_list("id", "hash", "seal", *HASHED_FIELDS)
    for row in rows.iterator(chunk_size=chunk_size):
        entry_id, stored_hash, seal, values = row[0], row[1], row[2], dict(zip(HASHED_FIELDS, row[3:]))
        verdict.first_id = verdict.first_id or entry_id
        if pending and pending[0].id < entry_id:
            return _fail(verdict, pending[0].id, f"entry {pending[0].id}, witnessed at {pending[0].at} (line "
                                                 f"{pending[0].line} of the witness), is missing: it was removed")
        if values["prev_hash"] != expected_prev:
            return _fail(verdict, entry_id, f"entry {entry_id} does not follow the entry before it (an entry before "
                                            f"it was removed or changed)")
        if seal is None and sealed_since is not None:
            return _fail(verdict, entry_id, f"entry {entry_id} carries no seal, yet entries from {sealed_since} on "
                                            f"are sealed: it was rewritten without the chain key")
        if seal is not None:
            keys = keys or sealing.key_count()
            if not 0 < seal <= keys:
                return _fail(verdict, entry_id, f"entry {entry_id} claims to be sealed with key {seal}, and the chain "
                                                f"key has {keys}: it was changed, or this verifier lacks a newer key")
            sealed_since = sealed_since or entry_id
            verdict.sealed += 1
        if hash_of(values, seal) != stored_hash:
            how = "its seal does not match the chain key" if seal is not None else "its hash does not match"
            return _fail(verdict, entry_id, f"entry {entry_id} was changed after it was written ({how})")
        while pending and pending[0].id == entry_id:
            head = pending.popleft()
            if head.hash != stored_hash:
                since = f"after entry {matched_id}" if matched_id else "up to it"
                return _fail(verdict, entry_id, f"entry {entry_id} is not as witnessed at {head.at} (line {head.line} "
                                                f"of the witness): an entry {since} was rewritten, by someone holding "
                                                f"the chain key or by stripping every seal")
            matched_id, verdict.last_witness = entry_id, head
            verdict.witnessed += 1
        expected_prev = verdict.last_hash = stored_hash
        verdict.checked += 1
        verdict.last_id = entry_id
    if pending:
        head = pending[0]
        return _fail(verdict, head.id, f"entry {head.id}, witnessed at {head.at} (line {head.line} of the witness), "
                                       f"is missing: the chain ends at entry {verdict.last_id}, so the newest "
                                       f"entries were removed")
    head = ChainHead.objects.filter(pk=1).values_list("last_hash", flat=True).first()
    if head is not None and head != expected_prev:
        verdict.problem = ("the newest entries are missing: the chain ends before the recorded head "
                           f"(last entry checked: {verdict.last_id})")
    return verdict


def _fail(verdict, entry_id, problem):
    verdict.bad_id, verdict.problem = entry_id, problem
    return verdict
