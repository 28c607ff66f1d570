"""The shipped runbook library (runbooks/*.md): every procedure of the source
documents has a file, every file parses cleanly, and the safety rules hold (destructive steps guarded,
parameters reaching a shell constrained by a pattern)."""
import re
import subprocess
from pathlib import Path

import pytest

from ops_console.runbooks import executors, params
from ops_console.runbooks.document import KINDS
from ops_console.runbooks.parser import parse
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "runbooks"

# Every procedure named in issue 7, by section of the source documents.
PROCEDURES = {
    "failure scenarios": [
        "ssd-failure-ram-fallback", "disk-full", "out-of-memory", "network-partition", "high-load-shedding",
        "circuit-breaker-stuck-open", "model-corruption",
    ],
    "emergency procedures": ["complete-service-outage", "emergency-rollback", "emergency-scale-down"],
    "troubleshooting": ["troubleshoot-high-latency", "frequent-pod-restarts", "readiness-probe-failures"],
    "cluster operations": [
        "checking-cluster-health", "deploying-a-service", "scaling-a-service", "rolling-update", "no-raft-leader",
        "high-scheduling-failures", "slow-raft-commits", "upgrading-the-cluster", "adding-a-manager-node",
        "removing-a-manager-node", "all-managers-lost", "capacity-planning",
    ],
    "playbooks": ["high-error-rate", "high-latency", "data-loss-suspected", "s3-outage"],
    "alert runbooks": ["service-down", "memory-leak-suspected", "ai-processing-backlog"],
    "checklists": [
        "maintenance-window", "pre-production-checklist", "ga-release-checklist", "blue-green-deployment",
        "canary-rollback-criteria",
    ],
    "disaster recovery": [
        "dr-pod-failure", "dr-service-degradation", "dr-complete-service-failure", "dr-database-corruption",
        "dr-namespace-loss", "dr-cluster-loss", "backup-verification",
    ],
    "game days": [
        "gameday-ssd-failure", "gameday-disk-full", "gameday-oom", "gameday-network-partition", "gameday-high-load",
        "gameday-circuit-breaker", "gameday-pod-termination-write-load", "gameday-s3-partition",
        "gameday-cpu-starvation", "gameday-cascading-failure", "gameday-continuous-chaos", "gameday-pod-failure",
        "gameday-network-chaos", "gameday-resource-exhaustion", "gameday-resilience-suite",
    ],
    "demo": ["check-console-health"],
}
ALL_SLUGS = [slug for slugs in PROCEDURES.values() for slug in slugs]

PLAYBOOK_PHASES = ["Immediate actions (0-5 min)", "Diagnosis (5-15 min)", "Mitigation", "Permanent fixes",
                   "Escalation"]

# Recovery targets of the disaster-recovery document, stated in each runbook.
DR_TARGETS = {
    "dr-pod-failure": "< 2 minutes",
    "dr-service-degradation": "< 5 minutes",
    "dr-complete-service-failure": "< 10 minutes",
    "dr-database-corruption": "< 15 minutes",
    "dr-namespace-loss": "< 15 minutes",
    "dr-cluster-loss": "< 30 minutes",
}

EXECUTABLE_KINDS = {"shell", "http", "promql", "wait"}
SEVERITIES = {"P0", "P1", "P2", "P3"}
DESTRUCTIVE = re.compile(
    r"kubectl\s+(delete|drain|cordon|patch|apply|annotate|set\s)|rollout\s+(undo|restart)|\bscale\b"
    r"|helm\s+(upgrade|rollback|uninstall)|\bdrop\b|\brm\s|-delete\b|\brestart\b|\bstop\b|\bdisable\b"
    r"|\bkill\b|velero\s+restore\s+create|pg_restore|backup\s+restore|cluster\s+(recover|join)|node\s+update"
    r"|service\s+(create|update|delete)|-X\s*(POST|PUT|PATCH|DELETE)|\bdd\s|\bmount\b|\bscp\s|--push\b",
    re.IGNORECASE)


def library_files():
    return sorted(p for p in LIBRARY.glob("*.md") if p.name != "README.md")


def load(path):
    return parse(path.read_text(), path=str(path))


@pytest.fixture(scope="module")
def library():
    """{slug: RunbookDocument} for the whole library, parsed once."""
    docs = {}
    for path in library_files():
        doc, _ = load(path)
        docs[doc.slug] = doc
    return docs


def test_every_procedure_has_a_file():
    missing = [slug for slug in ALL_SLUGS if not (LIBRARY / f"{slug}.md").exists()]
    assert missing == []


def test_every_file_is_a_listed_procedure():
    assert sorted(p.stem for p in library_files()) == sorted(ALL_SLUGS)


# Alerts, rules, services and the numbers of the reports: test_shipped_library.py.


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.stem)
def test_runbook_parses_without_errors(path):
    doc, problems = load(path)
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert doc.slug == path.stem


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.stem)
def test_runbook_has_front_matter_and_an_executable_step(path):
    doc, _ = load(path)
    assert doc.title and doc.owner
    assert doc.kind in KINDS
    assert doc.services and doc.tags
    assert doc.severity in SEVERITIES
    assert any(step.kind in EXECUTABLE_KINDS for step in doc.steps)


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.stem)
def test_destructive_shell_steps_are_confirmed_or_approved(path):
    doc, _ = load(path)
    unguarded = []
    for step in doc.steps:
        if step.kind != "shell" or not DESTRUCTIVE.search(step.body):
            continue
        approved = any(s.kind == "approval" and s.phase == step.phase for s in doc.steps[:step.index])
        if not (step.confirm or approved) or step.auto:
            unguarded.append(f"line {step.line}: {step.title}")
    assert unguarded == []


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.stem)
def test_parameters_reaching_a_shell_have_a_pattern(path):
    doc, _ = load(path)
    declared = {p.name: p for p in doc.parameters}
    in_shell = {name for step in doc.steps if step.kind == "shell" for name in step.params}
    loose = [name for name in sorted(in_shell)
             if declared[name].type == "string" and not declared[name].pattern]
    assert loose == []


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.stem)
def test_defaults_are_valid_values(path):
    doc, _ = load(path)
    _, errors = params.validate(doc.parameters, {})
    required = {p.name for p in doc.parameters if p.required}
    assert set(errors) <= required


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.stem)
def test_every_step_renders_and_shell_steps_are_valid_bash(path):
    doc, _ = load(path)
    values, errors = params.validate(doc.parameters, {p.name: "sample-value" for p in doc.parameters if p.required})
    assert errors == {}
    broken = []
    for step in doc.steps:
        text = params.render(step, values)
        if step.kind == "shell":
            check = subprocess.run(["bash", "-n", "-c", text], capture_output=True, text=True)
            if check.returncode:
                broken.append(f"line {step.line}: {check.stderr.strip()}")
    assert broken == []


def test_destructive_pattern_catches_the_usual_suspects():
    for command in ("kubectl delete pod x", "kubectl rollout undo deploy/x", "kubectl scale deploy/x --replicas=0",
                    "psql -c 'drop table x'", "rm -rf /data/cache", "systemctl restart warren-manager",
                    "curl -X POST http://x/api/v1/admin/dlq/retry-all", "helm uninstall x"):
        assert DESTRUCTIVE.search(command), command
    for command in ("kubectl get pods -o wide", "kubectl logs deploy/x --previous", "redis-cli ping",
                    "kubectl get pods -o jsonpath='{.status.containerStatuses[0].restartCount}'"):
        assert not DESTRUCTIVE.search(command), command


def test_an_unguarded_destructive_step_would_be_caught(tmp_path):
    # The rule above must be able to fail: a bare `kubectl delete` is reported.
    path = tmp_path / "careless.md"
    path.write_text("---\ntitle: Careless\n---\n\n## Fix\n\n```shell\nkubectl delete pod web-0\n```\n")
    with pytest.raises(AssertionError):
        test_destructive_shell_steps_are_confirmed_or_approved(path)


@pytest.mark.parametrize("slug", PROCEDURES["playbooks"])
def test_playbooks_have_the_five_phases_with_budgets(library, slug):
    doc = library[slug]
    assert doc.kind == "playbook"
    assert [phase.heading for phase in doc.phases] == PLAYBOOK_PHASES
    assert [(p.budget_start_min, p.budget_end_min) for p in doc.phases[:2]] == [(0, 5), (5, 15)]


@pytest.mark.parametrize("slug,target", sorted(DR_TARGETS.items()))
def test_disaster_recovery_runbooks_state_their_target(library, slug, target):
    assert target in library[slug].description
    assert "RPO" in library[slug].description


@pytest.mark.parametrize("slug", PROCEDURES["game days"])
def test_game_days_record_times_and_check_targets(library, slug):
    doc = library[slug]
    manual = [step.body for step in doc.steps if step.kind == "manual"]
    assert any("confirm" in text.lower() for text in manual)        # the confirmation time is the record
    assert any(step.kind in ("promql", "wait", "http") for step in doc.steps)
    assert doc.phases[-1].title == "Verdict"
    assert any(phase.budget_end_min for phase in doc.phases)


def test_console_health_runbook_is_fully_automatic(library):
    doc = library["check-console-health"]
    defaults = {p.name: p.default for p in doc.parameters}
    assert defaults == {"console_url": "http://127.0.0.1:8000", "redis_port": 16379, "prometheus_job": "prometheus"}
    assert [(s.kind, s.auto, s.confirm) for s in doc.steps] == [
        ("http", True, False), ("http", True, False), ("shell", True, False), ("promql", True, False)]
    values, _ = params.validate(doc.parameters, {})
    rendered = [params.render(step, values).strip() for step in doc.steps]
    assert rendered == ["GET http://127.0.0.1:8000/healthz", "GET http://127.0.0.1:8000/readyz",
                        'redis-cli -p "${PARAM_redis_port}" ping', 'up{job="prometheus"}']
    assert [s.expect for s in doc.steps[2:]] == ["PONG|NOAUTH", "== 1"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_console_health_runbook_runs_green_against_local_services(library, live_server, private_redis,
                                                                  prometheus, settings):
    settings.PROMETHEUS_URL = prometheus.url
    doc = library["check-console-health"]
    values, errors = params.validate(doc.parameters, {"console_url": live_server.url,
                                                      "redis_port": str(private_redis.port)})
    assert errors == {}
    outcomes = [executors.get(step.kind).execute(executors.StepContext(step, values)) for step in doc.steps]
    assert [(o.ok, o.error) for o in outcomes] == [(True, "")] * 4
    assert "PONG" in outcomes[2].output


@pytest.mark.integration
def test_console_health_run_goes_green_through_the_engine(worker_control, live_server, private_redis, prometheus,
                                                         make_user):
    """The demo's promise: load the library, start the diagnostic, and a real
    Celery worker turns every step green against the local services."""
    from ops_console.runbooks import engine, library as runbook_library
    from ops_console.runbooks.models import Run, Runbook

    worker_control.start(extra_env={"PROMETHEUS_URL": prometheus.url})
    runbook_library.sync_directory(LIBRARY)
    version = Runbook.objects.get(slug="check-console-health").current_version
    values, errors = params.validate(version.parsed().parameters,
                                     {"console_url": live_server.url, "redis_port": str(private_redis.port)})
    assert errors == {}
    run = engine.start_run(version, values, actor=make_user("responder"))
    wait_until(lambda: Run.objects.get(pk=run.pk).status in Run.FINISHED, 60, message="the health check run")
    run.refresh_from_db()
    steps = list(run.steps.order_by("index"))
    assert (run.status, [s.status for s in steps]) == (Run.SUCCEEDED, ["succeeded"] * 4), [s.error for s in steps]
    assert "PONG" in steps[2].output
