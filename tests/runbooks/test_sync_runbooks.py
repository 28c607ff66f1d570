from django.core.management import CommandError, call_command

from ops_console.audit.models import AuditEntry
from ops_console.runbooks.models import Runbook

DISK_FULL = """---
title: Disk full
services: [backend]
alerts: [DiskFull]
---
# Disk full

## Check (0-5 min)

```shell title="Free space" auto=true
df -h
```
"""


def sync(path):
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("sync_runbooks", str(path), stdout=out, stderr=err)
        error = None
    except CommandError as exc:
        error = str(exc)
    return out.getvalue(), err.getvalue(), error


def test_sync_creates_then_leaves_unchanged_then_updates(db, tmp_path):
    (tmp_path / "disk-full.md").write_text(DISK_FULL)
    (tmp_path / "README.md").write_text("# The format\n")
    out, _, error = sync(tmp_path)
    assert error is None and "1 created" in out
    runbook = Runbook.objects.get(slug="disk-full")
    assert runbook.title == "Disk full" and runbook.alerts == ["DiskFull"] and runbook.services == ["backend"]
    assert runbook.current_version.number == 1 and runbook.current_version.parsed().steps[0].title == "Free space"

    out, _, _ = sync(tmp_path)
    assert "1 unchanged" in out and runbook.versions.count() == 1

    (tmp_path / "disk-full.md").write_text(DISK_FULL.replace("df -h", "df -h /var"))
    out, _, _ = sync(tmp_path)
    assert "1 updated" in out
    runbook.refresh_from_db()
    assert runbook.current_version.number == 2 and runbook.versions.count() == 2
    assert AuditEntry.objects.filter(action="runbook.updated", object_id=str(runbook.pk)).count() == 1


def test_files_with_errors_are_named_and_not_loaded(db, tmp_path):
    (tmp_path / "good.md").write_text(DISK_FULL)
    (tmp_path / "broken.md").write_text("---\ntitle: [unclosed\n---\n# Broken\n\n```shell\necho never closed\n")
    out, err, error = sync(tmp_path)
    assert "1 created" in out and "1 with errors" in out
    assert "not loaded:" in err and "broken.md" in err
    assert error and "1 runbook file(s) with errors" in error
    assert not Runbook.objects.filter(slug="broken").exists()


def test_a_runbook_that_runs_a_parameter_as_code_is_refused_with_its_line(db, tmp_path):
    (tmp_path / "clean.md").write_text("---\nparameters:\n  cmd:\n    pattern: '^[a-z ]+$'\n---\n# Clean\n\n"
                                       "```shell\necho {{ cmd }} | bash\n```\n")
    out, err, error = sync(tmp_path)
    assert "clean.md:9:" in err and "bash" in err and error
    assert not Runbook.objects.filter(slug="clean").exists()


def test_a_removed_file_archives_its_runbook(db, tmp_path):
    path = tmp_path / "disk-full.md"
    path.write_text(DISK_FULL)
    sync(tmp_path)
    path.unlink()
    sync(tmp_path)
    assert Runbook.objects.get(slug="disk-full").archived


def test_a_missing_directory_is_a_clear_error(db, tmp_path):
    assert "is not a directory" in sync(tmp_path / "nope")[2]


def test_a_link_out_of_the_directory_is_not_loaded(db, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    (tmp_path / "outside.md").write_text(DISK_FULL.replace("Disk full", "Outside"))
    (library / "outside.md").symlink_to(tmp_path / "outside.md")
    (library / "disk-full.md").write_text(DISK_FULL)
    out, err, error = sync(library)
    assert "1 created" in out and "1 with errors" in out
    assert f"not loaded: {library / 'outside.md'}\n" in err
    assert f"{library / 'outside.md'}:0: error: a symbolic link to a file outside the runbook directory: " \
           "not read" in err
    assert error and not Runbook.objects.filter(slug="outside").exists()


def test_two_files_with_one_slug_load_neither_and_keep_the_runbook_as_it_was(db, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "disk-full.md").write_text(DISK_FULL)
    sync(tmp_path)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "disk-full.md").write_text(DISK_FULL.replace("df -h", "df -h /var"))
    out, err, error = sync(tmp_path)
    assert "0 created, 0 updated, 0 unchanged, 2 with errors" in out
    assert "a/disk-full.md and b/disk-full.md would both be the runbook 'disk-full': rename one " \
           "(neither is loaded)" in err
    runbook = Runbook.objects.get(slug="disk-full")
    assert runbook.versions.count() == 1 and not runbook.archived
    assert error == "2 runbook file(s) with errors were not loaded"


def test_a_query_promtool_cannot_parse_is_not_loaded(db, tmp_path):
    (tmp_path / "bad-query.md").write_text("# Bad query\n\n```promql\nsum(rate(x[5m])\n```\n")
    out, err, error = sync(tmp_path)
    assert "bad-query.md:4: error: PromQL syntax error (promtool): unclosed left parenthesis at 1:16 of the " \
           "query" in err
    assert error and not Runbook.objects.filter(slug="bad-query").exists()


def test_sync_does_not_replace_an_imported_runbook_nor_import_a_library_one(db, tmp_path):
    from ops_console.runbooks import importer

    imported_tree, library = tmp_path / "imported", tmp_path / "library"
    (imported_tree / "storage").mkdir(parents=True)
    library.mkdir()
    (imported_tree / "storage" / "Disk-Full.md").write_text("# Disk full\n\n```shell\ndf -h\n```\n")
    [result] = importer.import_paths([imported_tree])
    assert [(r.slug, r.status) for r in result.readings] == [("storage-disk-full", "created")]
    imported = Runbook.objects.get(slug="storage-disk-full")
    before = (imported.current_version_id, imported.source_path)

    (library / "storage-disk-full.md").write_text(DISK_FULL)
    out, err, error = sync(library)
    assert "1 with errors" in out and error
    file = library / "storage-disk-full.md"
    assert (f"{file}:0: error: the runbook 'storage-disk-full' was imported from {imported.source_path}: "
            f"{file} does not replace it (rename one of them)") in err, err
    imported.refresh_from_db()
    assert (imported.current_version_id, imported.source_path) == before
    assert imported.current_version.parsed().imported and imported.versions.count() == 1

    # The mirror image: a library runbook is not replaced by an import of the same slug.
    (library / "storage-disk-full.md").rename(library / "disk-full.md")
    assert "1 created" in sync(library)[0]
    (imported_tree / "Disk-Full.md").write_text("# Disk full, imported\n")
    [again] = importer.import_paths([imported_tree / "Disk-Full.md"])
    library_runbook = Runbook.objects.get(slug="disk-full")
    assert [r.status for r in again.readings] == ["refused"]
    assert [p.message for p in again.errors] == [
        f"the runbook 'disk-full' exists (from {library_runbook.source_path}) and was not imported: it is not "
        "replaced (rename the file)"]
    assert not library_runbook.current_version.parsed().imported and library_runbook.versions.count() == 1
