from ops_console.runbooks import importer
from ops_console.runbooks.models import Runbook

from .builders import make_doc, make_version, shell

HUGO = """---
title: Kube Pod Crash Looping
weight: 20
bookCollapseSection: true
date: 2024-01-02
---

# KubePodCrashLooping

## Diagnosis

Check the pod:

```shell
$ kubectl -n $NAMESPACE describe pod $POD
Events: none
```
"""

CATALOGUE = """# Alert runbooks

Every alert of the mixin, one heading each.

### Group: apps
##### Alert Name: "AppPodCrashLooping"
+ *Severity*: warning
+ Look at the pod: `kubectl describe pod <pod>`.

```shell
kubectl get pods --field-selector=status.phase!=Running
```
##### Alert Name: AppPodNotReady
+ *Severity*: critical
### Group: storage
##### Alert Name: "AppVolumeFillingUp"
+ *Severity*: warning
##### Alert Name: "AppVolumeFillingUp"
+ *Severity*: critical

## See also
+ the docs
"""


def test_hugo_front_matter_is_metadata_and_the_alert_comes_from_the_file_name():
    result = importer.read_text(HUGO, path="docs/KubePodCrashLooping.md")
    assert result.all_problems == []
    [reading] = result.readings
    doc = reading.doc
    assert (reading.slug, doc.title, doc.alerts, doc.imported) == (
        "kubepodcrashlooping", "Kube Pod Crash Looping", ["KubePodCrashLooping"], True)
    assert doc.metadata == {"title": "Kube Pod Crash Looping", "weight": 20, "bookCollapseSection": True,
                            "date": "2024-01-02"}
    [step] = doc.steps
    assert (step.kind, step.auto, step.line) == ("shell", False, 14)
    assert step.body == "kubectl -n {{ namespace }} describe pod {{ pod }}"
    assert [p.name for p in doc.parameters] == ["namespace", "pod"]
    assert "Events: none" in step.explanation and "Events" not in step.body


def test_the_alert_from_front_matter_or_the_title():
    assert importer.read_text("---\nalert: DiskFull\n---\n# Disk\n", path="disk.md").readings[0].doc.alerts == \
        ["DiskFull"]
    assert importer.read_text("# Watchdog\n\ntext\n", path="Watchdog.md").readings[0].doc.alerts == ["Watchdog"]
    assert importer.read_text("# HostOutOfMemory\n\ntext\n", path="memory.md").readings[0].doc.alerts == \
        ["HostOutOfMemory"]
    assert importer.read_text("# Notes\n\ntext\n", path="README-notes.md").readings[0].doc.alerts == []


def test_toml_jekyll_and_broken_front_matter_are_never_errors():
    result = importer.read_text('+++\ntitle = "Disk"\nweight = 3\n+++\n# Disk\n', path="disk.md")
    assert result.readings[0].doc.metadata == {"title": "Disk", "weight": 3} and result.errors == []
    result = importer.read_text("---\nlayout: post\ntitle: [unclosed\n---\n# Disk\n", path="disk.md")
    assert result.errors == [] and result.readings[0].doc.metadata == {"front_matter": "layout: post\ntitle: [unclosed"}
    [warning] = result.all_problems
    assert (warning.line, warning.severity) == (3, "warning") and "kept as text" in warning.message


def test_a_catalogue_becomes_one_runbook_per_alert():
    result = importer.read_text(CATALOGUE, path="mixin/runbook.md")
    assert [(r.slug, r.doc.alerts, r.doc.severity, r.line) for r in result.readings] == [
        ("apppodcrashlooping", ["AppPodCrashLooping"], "warning", 6),
        ("apppodnotready", ["AppPodNotReady"], "critical", 13),
        ("appvolumefillingup", ["AppVolumeFillingUp"], "warning", 16),
    ]
    # Imported from a directory that holds it in a folder: in the catalogue's folder.
    result = importer.read_text(CATALOGUE, path="/src/mixin/runbook.md", name="mixin/runbook.md")
    assert [r.slug for r in result.readings][:1] == ["mixin-apppodcrashlooping"]
    first = result.readings[0]
    assert first.source.startswith('##### Alert Name: "AppPodCrashLooping"') and "AppPodNotReady" not in first.source
    assert [s.body for s in first.doc.steps] == ["kubectl get pods --field-selector=status.phase!=Running"]
    assert "+ *Severity*: critical" in result.readings[2].source    # both rules of one alert
    assert "See also" not in result.readings[2].source


def test_empty_and_section_pages_are_skipped_not_refused():
    assert importer.read_text("---\ntitle: node\nweight: 10\n---\n", path="node/_index.md").skipped
    assert importer.read_text("", path="x.md").skipped == "nothing to import: the file is empty"


def test_store_creates_once_and_refuses_to_replace_a_console_runbook(db):
    [result] = importer.import_texts([("KubePodCrashLooping.md", HUGO)])
    assert [r.status for r in result.readings] == ["created"]
    runbook = Runbook.objects.get(slug="kubepodcrashlooping")
    assert runbook.current_version.parsed().imported and runbook.alerts == ["KubePodCrashLooping"]
    [again] = importer.import_texts([("KubePodCrashLooping.md", HUGO)])
    assert [r.status for r in again.readings] == ["unchanged"] and runbook.versions.count() == 1
    [changed] = importer.import_texts([("KubePodCrashLooping.md", HUGO + "\nMore.\n")])
    assert [r.status for r in changed.readings] == ["updated"] and runbook.versions.count() == 2
    make_version(make_doc(shell("true"), slug="disk-full"))
    [refused] = importer.import_texts([("disk-full.md", "# Disk\n\n```shell\ndf -h\n```\n")])
    assert refused.readings[0].status == "refused"
    assert [str(p) for p in refused.errors] == [
        "disk-full.md:1: error: the runbook 'disk-full' exists and was not imported: it is not replaced "
        "(rename the file)"]


def test_two_files_that_would_be_one_runbook_are_both_refused_the_rest_imported(db):
    results = importer.import_texts([("t/a/B-Same.md", "# A\n", "a/B-Same.md"),    # (shown as, text, name in the tree)
                                     ("t/a-b/same.md", "# B\n", "a-b/same.md"), ("Other.md", "# O\n"),
                                     ("bad.md", UnicodeDecodeError("utf-8", b"ab\n\xff", 3, 4, "invalid"))])
    messages = [str(p) for r in results for p in r.errors]
    assert messages == ["t/a/B-Same.md:1: error: t/a/B-Same.md:1, t/a-b/same.md:1 would all be the runbook "
                        "'a-b-same': rename all but one (none is imported)",
                        "t/a-b/same.md:1: error: t/a/B-Same.md:1, t/a-b/same.md:1 would all be the runbook "
                        "'a-b-same': rename all but one (none is imported)",
                        "bad.md:2: error: not UTF-8 text (byte 0xff): not imported"]
    assert list(Runbook.objects.values_list("slug", flat=True)) == ["other"]


def test_the_slug_is_the_path_in_the_imported_tree(db, tmp_path):
    """Same-named files in two folders of one import are two runbooks, each linked to the alert
    its name says; the folder imported itself is no part of the slug."""
    tree = tmp_path / "runbooks"
    for folder in ("kubernetes", "openshift/nodes"):
        (tree / folder).mkdir(parents=True)
        (tree / folder / "KubePodCrashLooping.md").write_text(HUGO.replace("Check the pod:", f"Check ({folder}):"))
    (tree / "notes.md").write_text("# Notes\n")
    results = importer.import_paths([tree])
    assert sorted((r.slug, r.status, r.doc.alerts) for result in results for r in result.readings) == [
        ("kubernetes-kubepodcrashlooping", "created", ["KubePodCrashLooping"]),
        ("notes", "created", []),
        ("openshift-nodes-kubepodcrashlooping", "created", ["KubePodCrashLooping"])]
    assert [p for result in results for p in result.errors] == []
    # One file given by itself: its name only.
    [single] = importer.import_paths([tree / "kubernetes" / "KubePodCrashLooping.md"], save=False)
    assert [r.slug for r in single.readings] == ["kubepodcrashlooping"]


def test_a_link_out_of_the_directory_is_refused(db, tmp_path):
    outside = tmp_path / "secret.md"
    outside.write_text("# Secret\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "Link.md").symlink_to(outside)
    (tree / "Fine.md").write_text("# Fine\n")
    results = importer.import_paths([tree])
    assert any("a symbolic link to a file outside the runbook directory: not read" in str(p)
               for r in results for p in r.errors)
    assert list(Runbook.objects.values_list("slug", flat=True)) == ["fine"]


RUNNABLE = """# DiskAlmostFull

## Diagnosis

```shell
$ echo "checking $MOUNT_POINT"
checking /var
```

Then on the node itself:

```shell
$ oc debug node/$NODE
$ df -h /host/var
```
"""


def test_an_imported_runbook_runs_its_command_on_a_click_and_waits_for_a_person_in_the_session(db, responder):
    from ops_console.runbooks import engine

    from .builders import drive, statuses

    [result] = importer.import_texts([("DiskAlmostFull.md", RUNNABLE)])
    version = result.readings[0].runbook.current_version
    doc = version.parsed()
    assert [(s.kind, s.body) for s in doc.steps] == [
        ("shell", 'echo "checking "{{ mount_point }}'), ("manual", "oc debug node/$NODE\ndf -h /host/var")]
    run = engine.start_run(version, {"mount_point": "/var"}, actor=responder)
    assert statuses(run) == ["waiting", "pending"]          # nothing runs before a person clicks
    engine.do_run_step(run.steps.get(index=0).pk, actor=responder)
    drive(run)
    first = run.steps.get(index=0)
    assert (first.status, first.output.strip()) == ("succeeded", "checking /var")
    assert statuses(run) == ["succeeded", "waiting"]        # the session is a person's
    engine.do_confirm(run.steps.get(index=1).pk, actor=responder)
    run.refresh_from_db()
    assert run.status == "succeeded"


def test_headings_that_only_mention_alerts_do_not_make_a_catalogue():
    text = "# KubePodNotReady\n\n## KubePodCrashLooping\n\nSee there.\n\n## KubeContainerWaiting\n\nAnd there.\n"
    assert [r.slug for r in importer.read_text(text, path="KubePodNotReady.md").readings] == ["kubepodnotready"]
    text = "# Notes\n\n## PromQL\n\nq\n\n## PostgreSQL\n\np\n"
    assert [r.slug for r in importer.read_text(text, path="notes.md").readings] == ["notes"]
    bare = "# Alerts\n\n## KubePodNotReady\n\nx\n\n## KubeContainerWaiting\n\ny\n"
    assert [r.slug for r in importer.read_text(bare, path="alerts.md").readings] == [
        "kubepodnotready", "kubecontainerwaiting"]


def test_a_rule_at_the_top_is_not_front_matter():
    result = importer.read_text("---\n# DiskFull\n\n```shell\ndf -h\n```\n", path="disk.md")
    assert result.errors == [] and [s.body for s in result.readings[0].doc.steps] == ["df -h"]
    assert [str(p) for p in result.all_problems] == [
        "disk.md:1: warning: the front matter opened with --- is never closed: read as text"]
