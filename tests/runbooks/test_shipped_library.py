"""The shipped set read against itself and against the source documents
(../shared/seeds, quoted here): every alert a runbook answers has a rule and
every rule a runbook; every service a runbook or a rule names is shipped in
runbooks/services.yaml; every check can fail; the severities' targets are the
documented choice; the rules' and drills' numbers are the reports'.
docs/shipped-set.md explains the choices."""
import importlib
import io
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from ops_console.incidents import defaults
from ops_console.incidents.models import Severity
from ops_console.monitoring.models import Service
from ops_console.runbooks import drills, params
from ops_console.runbooks.executors import compare_samples
from ops_console.runbooks.parser import parse

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "runbooks"
RULES = REPO / "deploy" / "prometheus" / "rules"
SERVICES_FILE = LIBRARY / "services.yaml"
CHOICES = REPO / "docs" / "shipped-set.md"
# The reports themselves, where the checkout has them beside it (../shared/seeds); the quotes below are
# checked against them when they are there.
SEEDS = next((p for p in (REPO.parent / "shared" / "seeds", REPO / "seeds") if p.is_dir()), None)
# Rules other parts generate or own; they answer no runbook of the library by name.
GENERATED_RULES = {"slo_burn_rates.yml", "console_self.yml"}


def library():
    docs = {}
    for path in sorted(LIBRARY.glob("*.md")):
        if path.name != "README.md":
            docs[path.stem] = parse(path.read_text(), path=str(path))[0]
    return docs


DOCS = library()


def shipped_rules():
    """{alert: rule} of the shipped rule files."""
    rules = {}
    for path in sorted(RULES.glob("*.yml")):
        if path.name in GENERATED_RULES:
            continue
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["alert"] not in rules, f"{rule['alert']} is defined twice"
                    rules[rule["alert"]] = rule
    return rules


RULES_BY_ALERT = shipped_rules()
SERVICES = yaml.safe_load(SERVICES_FILE.read_text())


def seed(prefix):
    if SEEDS is None:
        pytest.skip("the source documents are not beside this checkout")
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


def runbook_slug(rule):
    return re.fullmatch(r"\$\{base_url\}/runbooks/([a-z0-9-]+)/", rule["annotations"]["runbook_url"]).group(1)


def threshold(expr):
    """The number an alert expression compares against last: `... > 0.1` -> ('>', 0.1)."""
    match = re.search(r"(==|!=|>=|<=|>|<)\s*(-?[0-9.eE+]+)\s*\)?\s*$", expr.strip())
    return match.group(1), float(match.group(2))


def duration(text):
    """Prometheus duration -> timedelta ("2m", "2h", "0s"; absent = 0)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return timedelta(seconds=sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", text or "0s")))


def pages(code):
    return next(pages for c, *_, pages in defaults.SEVERITIES if c == code)


def routed_severity(rule):
    """The console severity a rule's alert opens, through the default routing (P3 when unmapped)."""
    return dict(defaults.MAPPINGS).get(str(rule["labels"].get("severity", "")).lower(), "P3")


# --- alerts, rules and runbooks ------------------------------------------------------------------------

def test_every_alert_a_runbook_answers_has_a_shipped_rule():
    answered = {alert: slug for slug, doc in DOCS.items() for alert in doc.alerts}
    assert sorted(set(answered) - set(RULES_BY_ALERT)) == []


@pytest.mark.parametrize("alert", sorted(RULES_BY_ALERT))
def test_every_rule_links_the_one_runbook_that_answers_it(alert):
    answering = [slug for slug, doc in DOCS.items() if alert in doc.alerts]
    assert answering == [runbook_slug(RULES_BY_ALERT[alert])]


@pytest.mark.parametrize("alert", sorted(RULES_BY_ALERT))
def test_every_rule_carries_what_the_routing_reads(alert):
    rule = RULES_BY_ALERT[alert]
    assert rule["labels"]["severity"] in dict(defaults.MAPPINGS), "a severity the default routing maps"
    slugs = {s["slug"] for s in SERVICES}
    if "service" in rule["labels"]:
        assert rule["labels"]["service"] in slugs
    else:
        # Without a service label the alert reaches its service by `job`: no aggregation may drop it.
        for by in re.findall(r"\b(?:sum|avg|min|max|count)\s*(by\s*\([^)]*\))?\s*\(", rule["expr"]):
            assert "job" in by, f"{alert} aggregates the job label away and names no service"
    selectors = {s["selector"] for s in SERVICES}
    for jobs in re.findall(r'job=~?"([^"]+)"', rule["expr"]):
        for job in jobs.split("|"):
            assert f'job="{job}"' in selectors, f"no shipped service has the job {job}"


@pytest.mark.parametrize("alert", sorted(RULES_BY_ALERT))
def test_an_alert_pages_when_its_runbook_is_written_for_a_paging_severity(alert):
    rule = RULES_BY_ALERT[alert]
    runbook = DOCS[runbook_slug(rule)]
    assert pages(routed_severity(rule)) == pages(runbook.severity), (routed_severity(rule), runbook.severity)


def test_high_latency_pages_the_on_call_engineer_as_report_003_says():
    assert "- P95 >100ms: On-call engineer" in seed("003")
    rule = RULES_BY_ALERT["HighLatency"]
    assert threshold(rule["expr"]) == (">", 0.1)
    assert pages(routed_severity(rule))


# The numbers of the rules, from the reports. Report 002 writes its rules as YAML: they are read from
# it. The others are quoted: the report's line, or the runbook's where the report names the alert only.
QUOTED_NUMBERS = {
    # alert: (threshold, for, (source, line))
    "DiskSpaceLow": ((("<", 0.1)), "0s", ("000", "| Disk Full | <5s | <5min | Manual |")),
    "WarrenNoLeader": (("==", 0.0), "1m", ("001", "1. **No Raft Leader**")),
    "WarrenHighSchedulingFailureRate": ((">", 0.1), "5m", ("001", "2. **High Container Scheduling Failures**")),
    "WarrenSlowRaftCommits": ((">", 1.0), "5m", ("001", "3. **Slow Raft Commits**")),
}
RUNBOOK_NUMBERS = {  # the runbook states the number the rule uses
    "DiskSpaceLow": ("disk-full", "DiskSpaceLow** fires below 10% free space"),
    "WarrenNoLeader": ("no-raft-leader", "no leader for 1 minute"),
    "WarrenHighSchedulingFailureRate": ("high-scheduling-failures", "more than 10% of placements fail for 5 minutes"),
    "WarrenSlowRaftCommits": ("slow-raft-commits", "Raft commit P95 is above 1 s"),
}


def report_002_rules():
    block = re.search(r"```yaml\n(groups:.*?)```", seed("002"), re.S).group(1)
    return {rule["alert"]: rule for group in yaml.safe_load(block)["groups"] for rule in group["rules"]}


@pytest.mark.parametrize("alert", ["HighLatency", "HighErrorRate", "ServiceDown", "MemoryLeakSuspected",
                                   "AIProcessingBacklog"])
def test_the_rules_of_report_002_keep_its_thresholds_and_durations(alert):
    written = report_002_rules()[alert]
    shipped = RULES_BY_ALERT[alert]
    assert threshold(shipped["expr"]) == threshold(written["expr"])
    assert duration(shipped["for"]) == duration(written["for"])


def test_every_shipped_rule_has_its_numbers_from_a_source():
    assert set(RULES_BY_ALERT) == set(report_002_rules()) | set(QUOTED_NUMBERS)


@pytest.mark.parametrize("alert", sorted(QUOTED_NUMBERS))
def test_the_other_rules_keep_the_numbers_quoted(alert):
    expected, for_, (source, line) = QUOTED_NUMBERS[alert]
    assert line in seed(source)
    slug, stated = RUNBOOK_NUMBERS[alert]
    assert stated in " ".join((LIBRARY / f"{slug}.md").read_text().split())
    rule = RULES_BY_ALERT[alert]
    assert threshold(rule["expr"]) == expected
    assert duration(rule.get("for")) == duration(for_)


def test_promtool_accepts_every_shipped_rule(tmp_path):
    for path in RULES.glob("*.yml"):
        (tmp_path / path.name).write_text(path.read_text().replace("${base_url}", "https://ops.example.com"))
    result = subprocess.run(["promtool", "check", "rules", *map(str, sorted(tmp_path.glob("*.yml")))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def rendered_rules(tmp_path):
    for path in RULES.glob("*.yml"):
        (tmp_path / path.name).write_text(path.read_text().replace("${base_url}", "https://ops.example.com"))
    return sorted(tmp_path.glob("*.yml"))


def firing(tmp_path, rule_files, series, alert, at, matchers=""):
    return promtool_eval(tmp_path, series, f'count(ALERTS{{alertname="{alert}",alertstate="firing"{matchers}}})',
                         at, rule_files) is not None


def commit_buckets(counts):
    """A Raft commit histogram growing by counts={le: n} every 15 s."""
    return {f'warren_raft_commit_duration_seconds_bucket{{le="{le}"}}': f"0+{n}x80" for le, n in counts.items()}


# Each rule on both sides of its numbers, in Prometheus's own engine: (alert, series, time, fires).
RULE_CASES = [
    ("WarrenNoLeader", {'warren_raft_is_leader{instance="m1"}': "1x8 0x40",
                        'warren_raft_is_leader{instance="m2"}': "0x48"}, "2m45s", False),   # pending (for 1m)
    ("WarrenNoLeader", {'warren_raft_is_leader{instance="m1"}': "1x8 0x40",
                        'warren_raft_is_leader{instance="m2"}': "0x48"}, "4m", True),
    ("WarrenNoLeader", {'warren_raft_is_leader{instance="m1"}': "1x48"}, "10m", False),
    ("WarrenHighSchedulingFailureRate", {"warren_containers_scheduled_total": "0+8x80",
                                         "warren_containers_failed_total": "0+2x80"}, "12m", True),    # 20 %
    ("WarrenHighSchedulingFailureRate", {"warren_containers_scheduled_total": "0+19x80",
                                         "warren_containers_failed_total": "0+1x80"}, "12m", False),   # 5 %
    ("WarrenSlowRaftCommits", commit_buckets({"0.5": 0, "1": 0, "2.5": 10, "+Inf": 10}), "12m", True),
    ("WarrenSlowRaftCommits", commit_buckets({"0.5": 10, "1": 10, "2.5": 10, "+Inf": 10}), "12m", False),
    ("DiskSpaceLow", {'node_filesystem_avail_bytes{fstype="ext4",instance="n1",mountpoint="/data"}': "9x8",
                      'node_filesystem_size_bytes{fstype="ext4",instance="n1",mountpoint="/data"}': "100x8"},
     "15s", True),                                                                          # no `for`: at once
    ("DiskSpaceLow", {'node_filesystem_avail_bytes{fstype="ext4",instance="n1",mountpoint="/data"}': "11x8",
                      'node_filesystem_size_bytes{fstype="ext4",instance="n1",mountpoint="/data"}': "100x8"},
     "1m", False),
    ("DiskSpaceLow", {'kubelet_volume_stats_available_bytes{persistentvolumeclaim="wal-akidb-0"}': "5x8",
                      'kubelet_volume_stats_capacity_bytes{persistentvolumeclaim="wal-akidb-0"}': "100x8"},
     "1m", True),
]


@pytest.mark.integration
@pytest.mark.parametrize("alert,series,at,fires", RULE_CASES,
                         ids=[f"{alert}-{at}-{'fires' if fires else 'quiet'}" for alert, _, at, fires in RULE_CASES])
def test_the_rules_fire_on_their_numbers_and_not_before(tmp_path, rendered_rules, alert, series, at, fires):
    assert firing(tmp_path, rendered_rules, series, alert, at) is fires


@pytest.mark.integration
def test_high_error_rate_names_the_service_whose_errors_crossed_one_percent(tmp_path, rendered_rules):
    series = {'http_requests_total{job="backend",status="500"}': "0+2x60",     # 2 % of backend's requests
              'http_requests_total{job="backend",status="200"}': "0+98x60",
              'http_requests_total{job="ai_core",status="200"}': "0+900x60"}
    assert firing(tmp_path, rendered_rules, series, "HighErrorRate", "10m", ',job="backend"')
    assert not firing(tmp_path, rendered_rules, series, "HighErrorRate", "10m", ',job="ai_core"')


# --- services --------------------------------------------------------------------------------------------

def test_every_service_a_runbook_names_is_shipped():
    slugs = {s["slug"] for s in SERVICES}
    named = {(slug, service) for slug, doc in DOCS.items() for service in doc.services}
    assert sorted((runbook, s) for runbook, s in named if s not in slugs) == []


def test_the_systems_of_the_reports_are_all_there():
    assert {s["slug"] for s in SERVICES} == {"ops-console", "backend", "ai-core", "inference", "warren", "akidb",
                                             "data-pipeline"}


@pytest.mark.django_db
def test_the_services_file_loads_once_and_keeps_what_an_admin_changed():
    out = io.StringIO()
    call_command("load_services", str(SERVICES_FILE), stdout=out)
    assert f"{len(SERVICES)} created, 0 unchanged" in out.getvalue()
    Service.objects.filter(slug="warren").update(selector='job="warren-managers"')
    call_command("load_services", str(SERVICES_FILE), stdout=out)
    assert f"0 created, {len(SERVICES)} unchanged" in out.getvalue()
    assert Service.objects.get(slug="warren").selector == 'job="warren-managers"'
    assert Service.objects.get(slug="data-pipeline").slos.get(name="Availability").objective == 99.95


@pytest.mark.django_db
@pytest.mark.parametrize("text,message", [
    ("- {slug: x, name: X, selektor: 'job=\"x\"'}\n", "unknown keys selektor"),
    ("- {slug: ok, name: OK}\n- {slug: x, name: X, slos: [{name: E, query: q, direction: below, objective: 0.01,"
     " warning: 0.02}]}\n", "warning"),
    ("slug: x\n", "expected a list of services"),
])
def test_a_broken_services_file_is_refused_whole(tmp_path, text, message):
    path = tmp_path / "services.yaml"
    path.write_text(text)
    with pytest.raises(CommandError, match=message):
        call_command("load_services", str(path), stdout=io.StringIO())
    assert Service.objects.count() == 0


# --- checks that can fail --------------------------------------------------------------------------------

def checks(kinds):
    for slug, doc in DOCS.items():
        for step in doc.steps:
            if step.kind in kinds and step.expect is not None:
                yield slug, step


# Shell expects are regular expressions found anywhere in the output (then the exit status does not count);
# http expects are text in the body (ops_console/runbooks/executors.py). For each, an output of the state
# the title rules out, and one of the state it asks for. A new text check needs its row here.
TEXT_CHECKS = {
    ("check-console-health", "Redis answers PING"): (
        "Could not connect to Redis at 127.0.0.1:16379: Connection refused", "PONG"),
    ("dr-database-corruption", "PostgreSQL answers"): (
        'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: '
        "FATAL:  the database system is in recovery mode (1 of 2 attempts)", "1"),
    ("gameday-oom", "OOMKilled seen"): ("Error\nCompleted\n\n", "OOMKilled\n"),
    ("gameday-resilience-suite", "Success rate at least 95%"): ("94.5 FAIL", "97.2 PASS"),
    ("rolling-update", "All replicas healthy before the update"): (
        "1 of 3 replicas not running\n", "0 of 3 replicas not running\n"),
    ("gameday-s3-partition", "Proxy exists and is enabled"): (
        '{"name":"minio","listen":"[::]:9000","upstream":"minio:9000","enabled":false,"toxics":[]}',
        '{"name":"minio","listen":"[::]:9000","upstream":"minio:9000","enabled":true,"toxics":[]}'),
    ("pre-production-checklist", "Alert rules loaded"): (
        '{"status":"success","data":{"groups":[]}}',
        '{"status":"success","data":{"groups":[{"name":"slo_violations","rules":[{"name":"HighErrorRate"}]}]}}'),
}


def text_check_passes(step, output):
    if step.kind == "http":
        return step.expect in output
    return re.search(step.expect, output, re.MULTILINE) is not None


def test_every_text_check_has_a_failing_output_in_the_table():
    assert sorted((slug, step.title) for slug, step in checks({"shell", "console", "http"})) == sorted(TEXT_CHECKS)


@pytest.mark.parametrize("slug,title", sorted(TEXT_CHECKS))
def test_a_text_check_fails_on_the_state_it_rules_out(slug, title):
    step = next(s for s in DOCS[slug].steps if s.title == title)
    bad, good = TEXT_CHECKS[(slug, title)]
    assert not text_check_passes(step, bad)
    assert text_check_passes(step, good)


def test_a_check_matching_whatever_the_value_is_caught():
    # The shape issue 19 found: `curl .../metrics` with expect="dlq_size" passes with a full DLQ too.
    doc = parse('```shell title="DLQ draining" auto=true expect="dlq_size"\ncurl -fsS http://akidb/metrics\n```\n',
                path="x.md")[0]
    assert text_check_passes(doc.steps[0], "akidb_dlq_size 4711")   # the state it should rule out


def failing_sample(expect):
    """A value the comparison must reject: the limit itself for < and >, beside it for == and >=, ..."""
    op, limit = re.fullmatch(r"(<=|>=|==|!=|<|>)\s*(\S+)", expect.strip()).groups()
    limit = float(limit)
    return {"<": limit, ">": limit, "<=": limit + 1, ">=": limit - 1, "==": limit + 1, "!=": limit}[op]


STATE_WORDS = re.compile(r"\b(open|closed|firing|above|below|under|every|all|drained|growing|down|reports)\b",
                         re.IGNORECASE)


def filters(query):
    """Does the query keep only the series in some state (a comparison outside label matchers and ranges,
    or the ALERTS of an alert)?"""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", query)
    return bool(re.search(r"==|!=|>=|<=|[<>]", bare)) or query.lstrip().startswith("ALERTS")


@pytest.mark.parametrize("slug,step", list(checks({"promql", "wait"})),
                         ids=lambda v: v if isinstance(v, str) else v.title)
def test_every_query_check_can_fail(slug, step):
    query = step.body
    if step.expect in ("empty", "nonempty"):
        assert compare_samples([], "nonempty") is False and compare_samples([1.0], "empty") is False
        if STATE_WORDS.search(step.title):   # a title that claims a state needs a query that filters by it
            assert filters(query), f"{slug}: {step.title!r} passes whatever the value"
        return
    assert not compare_samples([failing_sample(step.expect)], step.expect)
    assert not compare_samples([], step.expect), "a missing series must not pass"
    fallback = re.search(r"\bor\s+vector\(\s*(-?[0-9.]+)\s*\)\s*\)?\s*$", query.strip())
    if fallback:   # `... or vector(0)` at the top: an answer even without data; it must not be a pass
        assert not compare_samples([float(fallback.group(1))], step.expect), f"{slug}: {step.title!r}"


def test_a_state_check_that_does_not_filter_is_caught():
    assert not filters('circuit_breaker_state{job="inference"}')
    assert filters('circuit_breaker_state{job="inference"} == 1')
    assert not filters('sum(rate(http_requests_total{status=~"5.."}[5m]))')


# --- report 004: "error rate increase < 20%" -----------------------------------------------------------

CHAOS_DRILLS = ["gameday-pod-failure", "gameday-network-chaos", "gameday-resource-exhaustion"]


def error_increase_check(doc):
    (step,) = [s for s in doc.steps if s.kind == "promql" and "Error rate increase" in s.title]
    return step


def test_report_004_criteria_are_the_drills():
    assert "- Error rate increase < 20% during chaos" in seed("004")
    for slug in CHAOS_DRILLS:
        assert "error rate increase < 20%" in " ".join(DOCS[slug].description.split())


@pytest.mark.parametrize("slug", CHAOS_DRILLS)
def test_one_reading_of_the_error_rate_increase(slug):
    doc = DOCS[slug]
    step = error_increase_check(doc)
    assert step.expect == "< 1.2"
    assert "offset 15m" in step.body and step.body.count("clamp_min(") == 1 and ", 0.001)" in step.body
    latency = [s for s in doc.steps if "latency increase" in s.title.lower()]
    assert [s.expect for s in latency] == ["< 1.2"]
    assert not [s.title for s in doc.steps if s.expect == ">= 0.8"], "a success rate of 80% is not the criterion"


def promtool_eval(tmp_path, series, expr, at, rule_files=()):
    """The value of expr (x 100, rounded) at `at` over series given every 15 s, by Prometheus's own engine
    (promtool's unit tests), with the shipped rule files evaluated too; None when there is no sample."""
    tests = {"rule_files": [str(path) for path in rule_files], "evaluation_interval": "15s", "tests": [{
        "interval": "15s",
        "input_series": [{"series": s, "values": v} for s, v in series.items()],
        "promql_expr_test": [{"expr": f"round(({expr}) * 100)", "eval_time": at, "exp_samples": []}]}]}
    path = tmp_path / "eval.yml"
    path.write_text(yaml.safe_dump(tests))
    result = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    if result.returncode == 0:
        return None
    got = re.search(r"got: \{\} ([0-9.Ee+-]+)", result.stdout + result.stderr)
    assert got, result.stdout + result.stderr     # promtool prints what it got instead of no sample
    return float(got.group(1)) / 100


@pytest.mark.integration
@pytest.mark.parametrize("slug", CHAOS_DRILLS)
@pytest.mark.parametrize("baseline,during,passes", [
    ((10, 990), (11, 989), True),     # 1 % -> 1.1 %: +10 %
    ((10, 990), (15, 985), False),    # 1 % -> 1.5 %: +50 %
    ((0, 1000), (1, 999), True),      # 0 % -> 0.1 %: the floor, +0 %
    ((0, 1000), (2, 998), False),     # 0 % -> 0.2 %: twice the floor
])
def test_the_error_rate_increase_is_relative_to_the_baseline(tmp_path, slug, baseline, during, passes):
    doc = DOCS[slug]
    values, errors = params.validate(doc.parameters, {})
    assert errors == {}
    query = params.render(error_increase_check(doc), values)
    labels = f'namespace="{values["namespace"]}",deployment="{values["deployment"]}",direction="inbound"'
    # Failures and successes per 15 s: the baseline for 20 minutes, then the chaos.
    series = {
        f'response_total{{{labels},classification="failure"}}': f"0+{baseline[0]}x80 {80 * baseline[0]}+{during[0]}x40",
        f'response_total{{{labels},classification="success"}}': f"0+{baseline[1]}x80 {80 * baseline[1]}+{during[1]}x40",
    }
    value = promtool_eval(tmp_path, series, query, "29m")
    assert value is not None
    assert compare_samples([value], "< 1.2") is passes, value


# --- severities ------------------------------------------------------------------------------------------

def documented_targets():
    """{code: (acknowledge, resolve)} from the table of docs/shipped-set.md."""
    units = {"min": 60, "h": 3600, "days": 86400}
    rows = re.findall(r"^\| (P[0-3]) \| (\d+) (min|h|days) \| (\d+) (min|h|days) \|", CHOICES.read_text(), re.M)
    return {code: (timedelta(seconds=int(a) * units[au]), timedelta(seconds=int(r) * units[ru]))
            for code, a, au, r, ru in rows}


def test_the_severity_defaults_are_the_documented_choice():
    shipped = {code: (ack, resolution) for code, _, _, _, ack, _, resolution, _ in defaults.SEVERITIES}
    assert documented_targets() == shipped


def test_the_resolution_targets_meet_the_reports_mttr():
    assert "**MTTR**: < 15 minutes (automated DR)" in seed("004")
    assert "**Mean Time to Resolve (MTTR)**: <30 minutes" in seed("002")
    targets = {code: resolution for code, *_, resolution, _ in defaults.SEVERITIES}
    assert targets["P0"] <= timedelta(minutes=15)
    assert targets["P1"] <= timedelta(minutes=30)


@pytest.mark.django_db
def test_existing_installs_get_the_new_targets_unless_an_admin_changed_them():
    from django.apps import apps

    migration = importlib.import_module("ops_console.incidents.migrations.0005_resolution_targets_from_the_reports")
    Severity.objects.filter(code="P0").update(resolution_target=timedelta(hours=4))    # the first default
    Severity.objects.filter(code="P1").update(resolution_target=timedelta(hours=3))    # an admin's choice
    Severity.objects.filter(code="P2").update(resolution_target=timedelta(days=1))
    migration.forwards(apps, None)
    targets = dict(Severity.objects.values_list("code", "resolution_target"))
    assert targets["P0"] == timedelta(minutes=15) and targets["P2"] == timedelta(hours=2)
    assert targets["P1"] == timedelta(hours=3)


# --- drills' targets -------------------------------------------------------------------------------------

# The detection and recovery targets of the reports' chaos tests, and the drill that runs each. The drills
# carry them in their front matter (`targets:`), which the console measures every run against (drills.py).
DRILL_TARGETS = {
    # slug: (detection seconds or None, recovery seconds, (report, line))
    "gameday-ssd-failure": (5, 60, ("000", "| SSD Failure | <5s | <60s | Automatic |")),
    "gameday-disk-full": (5, 300, ("000", "| Disk Full | <5s | <5min | Manual |")),
    "gameday-oom": (None, 120, ("000", "| OOM | <120s | <120s | ✅ PASS |")),
    "gameday-network-partition": (None, 60, ("000", "| Network Partition | <60s | <60s | ✅ PASS |")),
    "gameday-high-load": (10, 600, ("000", "| High Load | <10s | 5-10min | Semi-automatic (HPA) |")),
    "gameday-circuit-breaker": (5, 60, ("000", "| Circuit Breaker | <5s | 30-60s | Automatic |")),
    "gameday-cascading-failure": (None, 120, ("003", "- **Success Criteria**: System healthy within 120 seconds")),
    "gameday-pod-failure": (None, 60, ("004", "- Full recovery within 60 seconds after chaos ends")),
    "gameday-network-chaos": (None, 60, ("004", "- Full recovery within 60 seconds after chaos ends")),
    "gameday-resource-exhaustion": (None, 60, ("004", "- Full recovery within 60 seconds after chaos ends")),
}
# Recovery counted from the fault's removal (T1), and the words that say so; the others count from T0.
RECOVERY_AFTER_REMOVAL = {
    "gameday-ssd-failure": "recovers automatically in **< 60s** after the SSD returns",
    "gameday-disk-full": "after cleanup it returns to\nnormal in **< 5 min**",
    "gameday-network-partition": "after the partition heals",
    "gameday-high-load": "back to normal **5-10 min**\nafter the load",
    "gameday-circuit-breaker": "closed again **30-60s** after the dependency returns",
    "gameday-pod-failure": "**full recovery within 60 seconds** after it ends",
    "gameday-network-chaos": "**full recovery within 60 seconds** after the chaos",
    "gameday-resource-exhaustion": "**full recovery within 60 seconds** after the\nstress ends",
}


def phase_seconds(doc, title):
    phase = next((p for p in doc.phases if p.title == title), None)
    return None if phase is None or phase.budget_end_min is None else round(phase.budget_end_min * 60)


def markers(doc):
    """{event: [steps that record it]}: steps with marks=<event> and checklist items "<Label>: ..."."""
    found = {}
    for step in doc.steps:
        if (event := drills.marked_event(step)) is not None:
            found.setdefault(event, []).append(step)
    return found


@pytest.mark.parametrize("slug", sorted(DRILL_TARGETS))
def test_the_drills_carry_the_reports_targets_where_the_console_reads_them(slug):
    detection, recovery, (report, line) = DRILL_TARGETS[slug]
    assert line in seed(report)
    doc = DOCS[slug]
    expected = {"recovery": float(recovery),
                "recovery_from": "fault_removed" if slug in RECOVERY_AFTER_REMOVAL else "fault_injected"}
    if detection is not None:
        expected["detection"] = float(detection)
    assert doc.targets == expected
    if slug in RECOVERY_AFTER_REMOVAL:
        assert RECOVERY_AFTER_REMOVAL[slug] in (LIBRARY / f"{slug}.md").read_text()
    # The headings say the same numbers to the people running it.
    if detection is not None:
        assert phase_seconds(doc, "Detection") == detection
    assert phase_seconds(doc, "Recovery") == recovery


def test_every_drill_with_targets_is_in_the_table():
    assert {slug for slug, doc in DOCS.items() if doc.targets} == set(DRILL_TARGETS)


@pytest.mark.parametrize("slug", sorted(DRILL_TARGETS))
def test_each_drill_records_the_moments_its_targets_need(slug):
    doc = DOCS[slug]
    found = markers(doc)
    needed = {"fault_injected", "recovered"} | ({"detected"} if "detection" in doc.targets else set())
    if doc.targets["recovery_from"] == "fault_removed":
        needed.add("fault_removed")
    assert needed <= set(found), f"{slug}: nothing records {needed - set(found)}"
    for event, steps in found.items():
        # At most one step observes an event, and at most one checklist item is the fallback click.
        assert len([s for s in steps if s.kind != "manual"]) <= 1, (slug, event)
        assert len([s for s in steps if s.kind == "manual"]) <= 1, (slug, event)
    order = [min(s.index for s in found[e]) for e in ("fault_injected", "fault_removed", "recovered") if e in found]
    assert order == sorted(order), f"{slug}: T0, T1 and recovered out of order"


@pytest.mark.parametrize("slug", sorted(DRILL_TARGETS))
def test_detection_is_a_wait_with_the_target_as_its_timeout(slug):
    doc = DOCS[slug]
    observers = [s for s in markers(doc).get("detected", []) if s.kind != "manual"]
    if "detection" in doc.targets:
        (step,) = observers
        assert step.kind == "wait" and step.body.strip() and step.timeout == doc.targets["detection"]
        assert step.on_failure == "continue", "a missed detection is a result, not the end of the drill"
    detection = [p.index for p in doc.phases if p.title == "Detection"]
    one_shot = [s.title for s in doc.steps if s.phase in detection and s.kind == "promql"]
    assert one_shot == [], f"{slug}: one-shot checks right after T0 fail against a 15 s scrape: {one_shot}"
