"""Every file of the shared corpus of plain Markdown runbooks (prometheus-operator)
imports without an error; the shell steps found are counted exactly."""
from pathlib import Path

import pytest

from ops_console.runbooks.params import render_shell, shell_environment, validate
from ops_console.runbooks.parser import import_markdown

# shared/ lies beside the repository (CI and every developer's machine).
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "prometheus-operator-runbooks"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "LICENSE")


def test_the_corpus_is_there():
    # Without it every test below would pass vacuously.
    assert len(FILES) == 118, f"expected the 118 corpus files in {CORPUS}"


def imported(path):
    return import_markdown(path.read_text(encoding="utf-8"), str(path))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_file_imports_without_error(path):
    doc, problems = imported(path)
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert doc.title and doc.imported
    assert all(s.kind == "shell" and not s.auto for s in doc.steps)
    for param in doc.parameters:
        assert (param.type, param.required, param.pattern) == ("string", True, "^[A-Za-z0-9._:/-]+$")


def test_corpus_size_and_shell_step_count():
    docs = [imported(path)[0] for path in FILES]
    assert len(FILES) == 118
    assert sum(len(doc.steps) for doc in docs) == 47
    assert sum(len(doc.parameters) for doc in docs) == 14


def test_one_file_in_detail():
    doc, problems = imported(CORPUS / "node" / "NodeFilesystemFilesFillingUp.md")
    assert (doc.slug, doc.title, doc.alerts) == (
        "nodefilesystemfilesfillingup", "Node Filesystem Files Filling Up", ["NodeFilesystemFilesFillingUp"])
    assert [p.title for p in doc.phases] == ["Meaning", "Impact", "Diagnosis", "Mitigation"]
    assert [(p.name, p.description) for p in doc.parameters] == [
        ("node_name", "Value of instance label from alert."), ("mount_point", "Value of mountpoint label from alert.")]
    [step] = doc.steps
    assert (step.line, step.phase, step.params) == (39, 2, ["node_name", "mount_point"])
    assert step.body == 'oc debug "node/"{{ node_name }}\ndf -hi "/host/"{{ mount_point }}'
    assert "```promql\nnode_filesystem_files_free{" in step.explanation      # a query sample stays text
    assert "You can also open a debug session" in step.explanation
    assert doc.phases[2].text.startswith("Note that in many cases a filesystem running out of inodes")
    values, errors = validate(doc.parameters, {"node_name": "node-1.example", "mount_point": "/var"})
    assert errors == {}
    assert render_shell(step.body, values) == (
        'oc debug "node/""${PARAM_node_name}"\ndf -hi "/host/""${PARAM_mount_point}"')
    assert shell_environment(step, values) == {"PARAM_node_name": "node-1.example", "PARAM_mount_point": "/var"}


def test_console_output_is_dropped_and_assigned_variables_stay_variables():
    doc, _ = imported(CORPUS / "etcd" / "etcdBackendQuotaLowSpace.md")
    assert doc.parameters == []
    assert doc.steps[0].body.startswith('NAMESPACE="kube-etcd"\nkubectl rsh -c etcdctl -n $NAMESPACE')
    doc, _ = imported(CORPUS / "alertmanager" / "AlertmanagerFailedReload.md")
    assert [s.body for s in doc.steps] == ["kubectl logs sts/alertmanager-main -c config-reloader"]
