"""Acceptance: `import_runbooks` on the shared prometheus-operator corpus (117
Markdown files, Hugo front matter): every runbook stored and linked to the
alert its file names, no step runs a session's command on the worker's host,
a second import makes no new version."""
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ops_console.audit.models import AuditEntry
from ops_console.incidents.ingest import Router
from ops_console.runbooks.models import Runbook, RunbookVersion
from ops_console.runbooks.transcripts import command_words

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "prometheus-operator-runbooks"
MARKDOWN = sorted(CORPUS.rglob("*.md"))
ALERT_FILES = [p for p in MARKDOWN if p.name != "_index.md"]
# What only makes sense inside `oc debug` / `kubectl rsh` / `exec` / `chroot`: never a worker's command.
SESSION_PROGRAMS = {"etcdctl", "chroot", "exit", "journalctl", "sysctl", "lsof"}


def run(*paths):
    out = StringIO()
    try:
        call_command("import_runbooks", *map(str, paths), stdout=out)
        return out.getvalue(), None
    except CommandError as exc:
        return out.getvalue(), str(exc)


@pytest.fixture
def imported(db):
    assert len(MARKDOWN) == 117 and len(ALERT_FILES) == 108, f"the corpus is not in {CORPUS}"
    out, error = run(CORPUS)
    return out, error


def test_the_whole_corpus_imports_and_links_every_alert(imported):
    out, error = imported
    assert error is None, out
    assert out.splitlines()[-1] == ("117 file(s): 108 runbook(s) created, 0 updated, 0 unchanged, 0 refused; "
                                    "9 file(s) skipped, 0 with errors")
    assert out.count("skipped, nothing to import: only front matter (a section page)") == 9
    assert " error: " not in out
    runbooks = {r.slug: r for r in Runbook.objects.select_related("current_version")}
    assert len(runbooks) == 108
    router = Router()       # what an incident opened by the alert links
    for path in ALERT_FILES:
        runbook = runbooks[f"{path.parent.name}-{path.stem}".lower()]   # its path in the corpus
        assert runbook.alerts == [path.stem] and router.runbook_for(path.stem) == runbook, path
        doc = runbook.current_version.parsed()
        assert doc.imported and runbook.current_version.source == path.read_text()
    # Hugo keys are kept, not refused.
    doc = runbooks["node-nodefilesystemfilesfillingup"].current_version.parsed()
    assert doc.metadata == {"title": "Node Filesystem Files Filling Up", "weight": 20}
    assert AuditEntry.objects.filter(action="runbook.imported").count() == 108


def test_no_step_runs_a_session_command_on_the_host(imported):
    steps = [(r.slug, s) for r in Runbook.objects.select_related("current_version")
             for s in r.current_version.parsed().steps]
    shell = [(slug, s) for slug, s in steps if s.kind == "shell"]
    manual = [(slug, s) for slug, s in steps if s.kind == "manual"]
    assert (len(steps), len(shell), len(manual)) == (47, 27, 20)
    assert all(not s.auto for _, s in steps)     # a person starts every one
    for slug, step in shell:
        for line in step.body.split("\n"):
            words = command_words(line)
            assert not (words and words[0] in SESSION_PROGRAMS), (slug, line)
            assert not any(opener in line for opener in ("oc debug", " debug node", " rsh ", "kubectl exec", "/host"))
    # The 13 commands typed inside a session that would have run on the worker are a person's, with their session.
    typed_inside = (["etcdctl"], ["chroot"], ["exit"], ["df"], ["cat"])
    inside = [s for _, s in manual if any(command_words(line)[:1] in typed_inside for line in s.body.split("\n"))]
    assert len(inside) == 13
    by_slug = dict(manual)
    assert by_slug["node-nodefilesystemfilesfillingup"].body == (
        "MOUNT_POINT='<value of mountpoint label from alert>'\nNODE_NAME='<value of instance label from alert>'\n"
        "oc debug \"node/$NODE_NAME\"\ndf -hi \"/host/$MOUNT_POINT\"")
    # Sample output is not part of a command: a printed table, the output after a `$ ` prompt.
    doc = Runbook.objects.get(slug="alertmanager-alertmanagerclustercrashlooping").current_version.parsed()
    assert doc.steps[0].body == "kubectl get pod -l app=alertmanager"
    assert "Sample output:\n\n```text\nNAMESPACE   NAME" in doc.steps[0].explanation
    doc = Runbook.objects.get(slug="alertmanager-alertmanagermembersinconsistent").current_version.parsed()
    assert doc.steps[0].body == ("kubectl describe svc alertmanager-main\n"
                                 "kubectl get pod -o wide | grep alertmanager-main")


def test_importing_again_makes_no_new_version(imported):
    versions = RunbookVersion.objects.count()
    out, error = run(CORPUS)
    assert error is None
    assert "108 unchanged" in out and RunbookVersion.objects.count() == versions == 108


def test_a_bad_file_is_named_and_the_rest_imported(db, tmp_path):
    (tmp_path / "KubePodCrashLooping.md").write_text((CORPUS / "kubernetes" / "KubePodCrashLooping.md").read_text())
    (tmp_path / "Broken.md").write_bytes(b"# Broken\n\nok line\n\xff\xfe not utf-8\n")
    out, error = run(tmp_path)
    assert "Broken.md:4: error: not UTF-8 text (byte 0xff): not imported" in out
    assert error.endswith("2 file(s): 1 runbook(s) created, 0 updated, 0 unchanged, 0 refused; "
                          "0 file(s) skipped, 1 with errors")
    assert Runbook.objects.get().alerts == ["KubePodCrashLooping"]


def test_lint_import_reads_the_corpus_as_the_importer_does():
    out = StringIO()
    call_command("lint_runbooks", "--import", str(CORPUS), stdout=out)
    assert out.getvalue().splitlines()[-1] == ("117 runbook(s) checked: 0 error(s), 1 warning(s); "
                                               "9 without a runbook (only front matter) skipped")
