"""Walk the hash chain and find the first entry that does not match, reading
plain values in id order so a million rows take seconds, not minutes."""
from dataclasses import dataclass

from .models import GENESIS, HASHED_FIELDS, AuditEntry, ChainHead, hash_of


@dataclass
class Verdict:
    checked: int = 0
    first_id: int | None = None
    last_id: int | None = None
    bad_id: int | None = None
    problem: str = ""
    last_hash: str = GENESIS

    @property
    def ok(self):
        return not self.problem


def verify(chunk_size=5000):
    verdict = Verdict()
    expected_prev = GENESIS
    rows = AuditEntry.objects.order_by("id").values_list("id", "hash", *HASHED_FIELDS)
    for row in rows.iterator(chunk_size=chunk_size):
        entry_id, stored_hash, values = row[0], row[1], dict(zip(HASHED_FIELDS, row[2:]))
        verdict.first_id = verdict.first_id or entry_id
        if values["prev_hash"] != expected_prev:
            verdict.bad_id = entry_id
            verdict.problem = (f"entry {entry_id} does not follow the entry before it (an entry before it was "
                               f"removed or changed)")
            return verdict
        if hash_of(values) != stored_hash:
            verdict.bad_id = entry_id
            verdict.problem = f"entry {entry_id} was changed after it was written (its hash does not match)"
            return verdict
        expected_prev = verdict.last_hash = stored_hash
        verdict.checked += 1
        verdict.last_id = entry_id
    head = ChainHead.objects.filter(pk=1).values_list("last_hash", flat=True).first()
    if head is not None and head != expected_prev:
        verdict.problem = ("the newest entries are missing: the chain ends before the recorded head "
                           f"(last entry checked: {verdict.last_id})")
    return verdict

