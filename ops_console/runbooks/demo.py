"""Standalone mode: load the runbook library in runbooks/ (idempotent)."""
from django.conf import settings

from . import library


def load(stdout):
    directory = settings.BASE_DIR / "runbooks"
    if not directory.is_dir():
        return
    results = library.sync_directory(directory)
    counts = {}
    for file, saved in results:
        counts[saved.status] = counts.get(saved.status, 0) + 1
        if saved.status == library.INVALID:
            stdout.write(f"  runbook not loaded: {file}: {'; '.join(str(p) for p in saved.errors[:3])}")
    stdout.write("  Runbooks: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
