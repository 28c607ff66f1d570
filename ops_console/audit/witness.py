"""The chain head witnessed outside the database: a line {"id", "hash", "at"}
appended to AUDIT_WITNESS_FILE (and POSTed to AUDIT_WITNESS_URL) whenever the
head moved. `verify_audit_log --witness FILE` then proves that no entry up to
a witnessed one changed, even for someone who could rewrite the table."""
import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import AuditEntry, ChainWitness

log = logging.getLogger(__name__)

POST_TIMEOUT = 5


@dataclass(frozen=True)
class Witnessed:
    id: int
    hash: str
    at: str
    line: int


class WitnessFileError(ValueError):
    pass


def witness_head():
    """Write the head out if it moved since the last witness; the line written, or None."""
    head = AuditEntry.objects.order_by("-id").values_list("id", "hash").first()
    if head is None:
        return None
    with transaction.atomic():
        # The row lock keeps a duplicated beat message from writing the same head twice.
        mark, _ = ChainWitness.objects.select_for_update().get_or_create(pk=1)
        if (mark.entry_id, mark.hash) == head:
            return None
        mark.entry_id, mark.hash = head
        mark.witnessed_at = timezone.now()
        line = {"id": mark.entry_id, "hash": mark.hash, "at": mark.witnessed_at.isoformat()}
        if settings.AUDIT_WITNESS_FILE:
            # Inside the transaction: a line that could not be written leaves the row as it was, for the next beat.
            append(Path(settings.AUDIT_WITNESS_FILE), line)
        mark.save(update_fields=["entry_id", "hash", "witnessed_at"])
    if settings.AUDIT_WITNESS_URL:
        post(settings.AUDIT_WITNESS_URL, line)
    return line


def append(path, line):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def post(url, line):
    """Best effort: a receiver that is down misses this head, and gets the next one."""
    headers = {"Content-Type": "application/json", "User-Agent": "ops-console"}
    if settings.AUDIT_WITNESS_TOKEN:
        headers["Authorization"] = f"Bearer {settings.AUDIT_WITNESS_TOKEN}"
    request = urllib.request.Request(url, data=json.dumps(line).encode(), method="POST", headers=headers)
    try:
        # Settings refuse an AUDIT_WITNESS_URL that is not http(s).
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT) as response:  # noqa: S310
            response.read(1024)
        return True
    except (urllib.error.URLError, OSError) as exc:
        log.warning("the audit witness at %s did not take entry %s: %s", url, line["id"], getattr(exc, "reason", exc))
        return False


def read(path):
    """The witnessed heads in a witness file, in file order."""
    heads = []
    with open(path, encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
                heads.append(Witnessed(id=int(data["id"]), hash=str(data["hash"]), at=str(data.get("at", "")),
                                       line=number))
            except (ValueError, TypeError, KeyError) as exc:
                raise WitnessFileError(f"line {number} of {path} is not a witnessed head ({exc})") from exc
    return heads
