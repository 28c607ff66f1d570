import re

import pytest
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.runbooks import engine
from ops_console.runbooks.document import Parameter, Phase
from ops_console.runbooks.models import Run, StepRun

from .builders import drive, make_doc, make_version, shell, start, statuses, step

ROLES = ["responder", "commander", "auditor", "admin"]


def version_with(*steps, slug=None, **kw):
    return make_version(make_doc(*steps, slug=slug, **kw))


# --- runbook list and page -----------------------------------------------------

def test_list_search_and_filters(client_as):
    a = version_with(shell("true"), slug="disk-full").runbook
    a.services, a.alerts = ["backend"], ["DiskFull"]
    a.save()
    b = version_with(shell("true"), slug="high-latency").runbook
    b.services, b.kind = ["api"], "playbook"
    b.save()
    client = client_as("responder")
    assert b"Disk Full" in client.get("/runbooks/").content
    for query, shown, hidden in [("q=disk", a, b), ("service=api", b, a), ("kind=playbook", b, a),
                                 ("alert=diskfull", a, b)]:
        content = client.get(f"/runbooks/?{query}").content.decode()
        assert shown.title in content and hidden.title not in content, query
    assert b"No runbook matches" in client.get("/runbooks/?q=nothing").content


def test_empty_library(client_as):
    assert b"No runbooks yet" in client_as("auditor").get("/runbooks/").content


def test_runbook_page_renders_sanitized_markdown_steps_and_phases(client_as):
    doc = make_doc(shell("df -h", title="Free space", phase=0), slug="disk-full",
                   phases=[Phase(index=0, title="Check", heading="Check (0-5 min)", budget_start_min=0,
                                 budget_end_min=5)])
    make_version(doc, source="---\ntitle: x\n---\n# Disk\n\nSome **bold** text <script>alert(1)</script>\n\n"
                             "```shell title=\"Free space\" auto=true\ndf -h\n```\n")
    response = client_as("auditor").get("/runbooks/disk-full/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "<strong>bold</strong>" in content and "<script>alert" not in content
    assert "Free space" in content and "0–5 min" in content
    assert "title: x" not in content  # front matter is not shown as prose
    assert '<code class="language-shell">df -h' in content  # a fence with attributes still renders as code
    assert "Start a run" not in content  # the auditor cannot start runs


def test_versions_and_diff(client_as):
    first = version_with(shell("true"), slug="disk-full")
    make_version(make_doc(shell("true"), slug="disk-full"), source="# Disk\n\nnew line\n")
    client = client_as("auditor")
    assert b"diff with v1" in client.get("/runbooks/disk-full/").content
    content = client.get("/runbooks/disk-full/diff/?from=1&to=2").content.decode()
    assert '<span class="diff-add">+new line</span>' in content
    old = client.get("/runbooks/disk-full/?version=1").content.decode()
    assert "You are reading version 1" in old and first.runbook.title in old
    assert client.get("/runbooks/disk-full/?version=9").status_code == 404
    assert client.get("/runbooks/nope/").status_code == 404


EDITED = "---\ntitle: Disk full\n---\n# Disk full\n\n```shell title=\"Free\" auto=true\ndf -h /var\n```\n"


def test_admin_edit_creates_a_new_version(client_as):
    runbook = version_with(shell("true"), slug="disk-full").runbook
    client = client_as("admin")
    assert client.get("/runbooks/disk-full/edit/").status_code == 200
    response = client.post("/runbooks/disk-full/edit/", {"source": EDITED})
    assert response.status_code == 302
    runbook.refresh_from_db()
    assert runbook.current_version.number == 2 and runbook.current_version.created_by == client.user
    assert runbook.current_version.parsed().steps[0].body.strip() == "df -h /var"


def test_edit_with_errors_keeps_the_text_and_names_the_problem(client_as):
    runbook = version_with(shell("true"), slug="disk-full").runbook
    broken = "# Disk\n\n```shell\nnever closed\n"
    response = client_as("admin").post("/runbooks/disk-full/edit/", {"source": broken})
    assert response.status_code == 400
    assert b"Not saved" in response.content and b"never closed" in response.content
    runbook.refresh_from_db()
    assert runbook.current_version.number == 1


REPARSING = ("---\nparameters:\n  cmd:\n    pattern: '^[a-z ]+$'\n---\n# Disk\n\n"
             "```shell title=\"Clean\"\nbash -ec {{ cmd }}\n```\n")


def test_edit_refuses_a_parameter_passed_to_a_shell_and_names_the_line(client_as):
    runbook = version_with(shell("true"), slug="disk-full").runbook
    response = client_as("admin").post("/runbooks/disk-full/edit/", {"source": REPARSING})
    assert response.status_code == 400
    content = response.content.decode()
    assert "Not saved" in content and "line 9: error" in content and "as shell code" in content
    runbook.refresh_from_db()
    assert runbook.current_version.number == 1


def test_edit_refuses_a_query_promtool_cannot_parse_and_names_the_line(client_as):
    runbook = version_with(shell("true"), slug="disk-full").runbook
    source = "# Disk\n\n```promql title=\"Free\"\nnode_filesystem_avail_bytes{mountpoint=\"/\"} <\n```\n"
    response = client_as("admin").post("/runbooks/disk-full/edit/", {"source": source})
    assert response.status_code == 400
    assert "line 4: error: PromQL syntax error (promtool): unexpected end of input" in response.content.decode()
    runbook.refresh_from_db()
    assert runbook.current_version.number == 1


def test_edit_without_promtool_saves_and_says_the_query_was_not_checked(client_as, monkeypatch):
    version_with(shell("true"), slug="disk-full")
    monkeypatch.setenv("PATH", "/nonexistent")
    source = "# Disk\n\n```promql title=\"Free\"\nnode_filesystem_avail_bytes <\n```\n"
    response = client_as("admin").post("/runbooks/disk-full/edit/", {"source": source}, follow=True)
    assert "Saved as version 2." in response.content.decode()
    assert "promtool is not installed (Debian package prometheus): PromQL queries were not checked" in \
        response.content.decode()


# --- starting a run --------------------------------------------------------------

NS = Parameter(name="namespace", type="string", required=True, pattern="^[a-z-]+$", description="Namespace")


def test_start_form_validates_parameters(client_as):
    version_with(shell("echo {{ namespace }}", auto=False, params=["namespace"]), slug="scale", parameters=[NS])
    client = client_as("responder")
    assert b'name="namespace"' in client.get("/runbooks/scale/start/").content
    response = client.post("/runbooks/scale/start/", {"namespace": "prod; rm -rf /"})
    assert response.status_code == 400
    assert b"prod; rm -rf /" in response.content  # the typed value is kept
    assert b'class="error"' in response.content
    assert not Run.objects.exists()


def test_start_form_refuses_a_value_over_the_length_limit(client_as):
    version_with(shell("echo {{ namespace }}", auto=False, params=["namespace"]), slug="scale", parameters=[NS])
    response = client_as("responder").post("/runbooks/scale/start/", {"namespace": "a" * 100_000})
    assert response.status_code == 400
    assert b"must be at most 1,000 characters (it has 100,000)" in response.content
    assert not Run.objects.exists()


def test_start_records_the_incident_and_pins_the_version(client_as):
    version = version_with(shell("echo {{ namespace }}", auto=False, params=["namespace"]), slug="scale",
                           parameters=[NS])
    client = client_as("responder")
    assert b"INC-42" in client.get("/runbooks/scale/start/?incident=INC-42").content
    response = client.post("/runbooks/scale/start/", {"namespace": "prod", "incident": "INC-42"})
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.version == version and run.parameters == {"namespace": "prod"}
    assert run.context == {"incident": "INC-42"} and run.started_by == client.user


def test_start_refuses_a_bad_incident_reference(client_as):
    version_with(shell("true"), slug="scale")
    response = client_as("responder").post("/runbooks/scale/start/", {"incident": "<b>x</b>"})
    assert response.status_code == 400 and not Run.objects.exists()


# --- the run page -----------------------------------------------------------------

def test_run_page_and_its_polling_partial(client_as, make_user):
    run = start(shell("echo hello"), step("approval", "Go?"), actor=make_user("responder"))
    drive(run)
    client = client_as("commander")
    content = client.get(f"/runs/{run.pk}/").content.decode()
    assert "hello" in content and 'hx-trigger="every 1s, run-status"' in content and "Approve" in content
    partial = client.get(f"/runs/{run.pk}/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b"<html" not in partial.content
    engine.do_approve(run.steps.get(index=1).pk, actor=client.user)
    finished = client.get(f"/runs/{run.pk}/", HTTP_HX_REQUEST="true")
    assert finished.status_code == 286 and b"every 1s" not in finished.content


def test_the_run_page_shows_every_attempt_of_a_retried_step(client_as, flaky_server):
    client = client_as("responder")
    run = drive(start(step("http", f"GET {flaky_server.url}/health", auto=True, retries=1), actor=client.user))
    assert run.status == "succeeded"
    content = client.get(f"/runs/{run.pk}/").content.decode()
    assert "Attempt 2 of 2 · earlier attempts (1)" in content
    assert 'data-number="1"' in content and "HTTP 503" in content and "answer 1" in content
    assert "HTTP 200" in content and "answer 2" in content  # the latest attempt, shown as the step


def test_the_run_page_shows_who_clicked_each_attempt_without_a_query_per_step(client_as, make_user):
    client = client_as("responder")
    rita = make_user("responder", username="rita")

    def retried_run(steps):
        run = drive(start(*[shell(f"echo try {n}; exit 1", on_failure="continue") for n in range(steps)],
                          actor=client.user))
        for step_run in run.steps.all():
            StepRun.objects.filter(pk=step_run.pk).update(status="failed")
        Run.objects.filter(pk=run.pk).update(status="failed")
        engine.do_retry(run.steps.get(index=0).pk, actor=rita)
        return drive(run)

    small, large = retried_run(2), retried_run(6)
    content = client.get(f"/runs/{large.pk}/").content.decode()
    assert content.count('data-testid="attempt"') == 6 and "Run by rita" in content and "automatic" in content
    assert _run_page_queries(client, small) == _run_page_queries(client, large)


def _run_page_queries(client, run):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/runs/{run.pk}/").status_code == 200
    return len(queries)


def test_a_step_held_back_by_a_checklist_item_says_so(client_as):
    client = client_as("responder")
    run = start(step("manual", "Decide with the commander"), shell("echo restart"), actor=client.user)
    content = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-testid="held-by"' in content and 'href="#step-1">step 1</a> is ticked' in content


def test_the_starter_sees_why_they_cannot_approve(client_as):
    client = client_as("commander")
    run = start(step("approval", "Go?"), actor=client.user)
    content = client.get(f"/runs/{run.pk}/").content.decode()
    assert "another commander has to approve" in content and ">Approve<" not in content
    response = client.post(reverse("runbooks:approve_step", args=[run.pk, 1]), follow=True)
    assert b"you cannot approve its gates" in response.content
    assert statuses(run) == ["waiting"]


def test_runs_list(client_as, make_user):
    run = drive(start(shell("true"), actor=make_user("responder"), context={"incident": "INC-42"}))
    client = client_as("auditor")
    assert f"/runs/{run.pk}/" in client.get("/runs/").content.decode()
    assert f"/runs/{run.pk}/" in client.get("/runs/?incident=INC-42").content.decode()
    assert b"No runs match" in client.get("/runs/?incident=INC-43").content
    assert b"No runs match" in client.get("/runs/?status=failed").content


# --- permissions: every mutating view, every role ---------------------------------

def waiting_run(first):
    """A run whose first step waits (as `first` needs), started by a separate responder."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    starter = get_user_model().objects.create_user("starter")
    starter.groups.add(Group.objects.get(name="responder"))
    return start(first, actor=starter)


def failed_run():
    return drive(waiting_run(shell("false")))


MUTATIONS = {
    "start": (lambda: version_with(shell("true", auto=False), slug="x") and "/runbooks/x/start/",
              {"responder", "commander", "admin"}),
    "edit": (lambda: version_with(shell("true"), slug="x") and "/runbooks/x/edit/", {"admin"}),
    "run_step": (lambda: f"/runs/{waiting_run(shell('true', auto=False)).pk}/steps/1/run/",
                 {"responder", "commander", "admin"}),
    "confirm_step": (lambda: f"/runs/{waiting_run(step('manual', 'Tell')).pk}/steps/1/confirm/",
                     {"responder", "commander", "admin"}),
    "skip_step": (lambda: f"/runs/{waiting_run(step('manual', 'Tell')).pk}/steps/1/skip/",
                  {"responder", "commander", "admin"}),
    "retry_step": (lambda: f"/runs/{failed_run().pk}/steps/1/retry/", {"responder", "commander", "admin"}),
    "approve_step": (lambda: f"/runs/{waiting_run(step('approval', 'Go?')).pk}/steps/1/approve/",
                     {"commander", "admin"}),
    "reject_step": (lambda: f"/runs/{waiting_run(step('approval', 'Go?')).pk}/steps/1/reject/",
                    {"commander", "admin"}),
    "cancel": (lambda: f"/runs/{waiting_run(step('manual', 'Tell')).pk}/cancel/", {"commander", "admin"}),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_permission_per_role(client_as, name, role):
    make_url, allowed = MUTATIONS[name]
    url = make_url()
    client = client_as(role)
    before_steps = list(StepRun.objects.values_list("status", flat=True))
    before_audit = AuditEntry.objects.count()
    response = client.post(url, {"source": EDITED} if name == "edit" else {})
    if role in allowed:
        assert response.status_code == 302, response.content[:300]
        assert AuditEntry.objects.count() > before_audit
    else:
        assert response.status_code == 403
        assert list(StepRun.objects.values_list("status", flat=True)) == before_steps
        assert AuditEntry.objects.count() == before_audit


@pytest.mark.parametrize("name", [n for n in MUTATIONS if n not in ("start", "edit")])
def test_mutations_are_post_only(client_as, name):
    url = MUTATIONS[name][0]()
    assert client_as("admin").get(url).status_code == 405


# --- the one run page: everything the auditor's record of a run showed ----------

def test_run_page_shows_version_parameters_commands_output_who_confirmed_and_the_source(client_as, make_user):
    from ops_console.audit.log import record
    from tests.history import builders

    carl, cora = make_user("responder", username="carl"), make_user("commander", username="cora")
    inc = builders.incident("Queue backlog")
    the_run = builders.run(incident=inc, parameters={"queue": "billing"},
                           steps=[("succeeded", carl, None), ("failed", carl, cora)])
    entry = record("run.started", obj=the_run, actor=carl)
    response = client_as("auditor").get(reverse("runbooks:run", args=[the_run.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "v1" in body and the_run.version.sha256 in body
    assert "billing" in body and "echo step 2" in body and "output of step 2" in body
    assert "Run by carl" in body and "Rejected by cora" in body
    assert f'href="/incidents/{inc.reference}/"' in body
    assert "systemctl restart app" in body  # the exact source that ran
    assert f'href="/audit/entries/{entry.pk}/"' in body and f"object=runbooks.run:{the_run.pk}" in body
    assert re.findall(r'<form[^>]*action="([^"]*)"', body) == [reverse("accounts:logout")]  # read-only
