"""The generated burn-rate rules: valid for promtool, and run by promtool's
rule engine (`promtool test rules`, Prometheus's own evaluator) on series a
person can reason about: a fast burn pages within the hour, a slow one opens a
ticket and pages nobody, a quiet service stays quiet."""
import subprocess

import pytest
import yaml

from ops_console.monitoring import burn_rules
from ops_console.monitoring.models import SLO, Service

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ERRORS = '(sum(rate(http_requests_total{status=~"5..", {{ selector }} }[{{ window }}])) or vector(0))'
REQUESTS = "sum(rate(http_requests_total{ {{ selector }} }[{{ window }}]))"


def api_slo(target=99.0, runbook="high-error-rate", name="Error rate"):
    service, _ = Service.objects.get_or_create(slug="api", defaults=dict(name="API", selector='job="api"',
                                                                          owner="platform"))
    return SLO.objects.create(service=service, name=name, query="vector(0)", direction=SLO.BELOW, objective=0.01,
                              target=target, error_query=ERRORS, total_query=REQUESTS, runbook=runbook)


def rules_file(tmp_path, slos):
    path = tmp_path / "slo_burn_rates.yml"
    path.write_text(burn_rules.render(slos).replace("${base_url}", "https://ops.example.com"))
    return path


def promtool_test(tmp_path, rules, tests):
    """`promtool test rules` on the rules without their annotations (checked
    apart: promtool compares them too, $value and all)."""
    groups = yaml.safe_load(rules.read_text())
    for group in groups["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    rules = tmp_path / "unannotated.yml"
    rules.write_text(yaml.safe_dump(groups, sort_keys=False))
    spec = tmp_path / "test.yml"
    spec.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests},
                                   sort_keys=False))
    return subprocess.run(["promtool", "test", "rules", str(spec)], capture_output=True, text=True, timeout=120)


def traffic(quiet_minutes, burn_minutes, errors_per_minute):
    """Counters, one sample a minute: 600 requests a minute, first quiet, then
    with errors_per_minute of them 500s (started high: no extrapolation to zero)."""
    good_start, bad_start = 1000000 + 600 * quiet_minutes + 600 - errors_per_minute, 5000 + errors_per_minute
    good = f"1000000+600x{quiet_minutes} {good_start}+{600 - errors_per_minute}x{burn_minutes - 1}"
    bad = f"5000x{quiet_minutes} {bad_start}+{errors_per_minute}x{burn_minutes - 1}"
    return [{"series": 'http_requests_total{job="api", status="200"}', "values": good},
            {"series": 'http_requests_total{job="api", status="500"}', "values": bad}]


PAGE = {"severity": "critical", "service": "api", "slo": "error-rate", "team": "platform", "job": "api"}
TICKET = {**PAGE, "severity": "warning"}
DAY, THREE_DAYS = 1440, 3 * 1440  # quiet minutes before a burn: the alert windows full of good traffic


def fired(at, *label_sets):
    return [{"eval_time": at, "alertname": "ErrorBudgetBurn",
             "exp_alerts": [{"exp_labels": labels} for labels in label_sets]}]


def test_promtool_accepts_the_rules(tmp_path):
    result = subprocess.run(["promtool", "check", "rules", str(rules_file(tmp_path, [api_slo()]))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "SUCCESS: 9 rules found" in result.stdout, result.stdout + result.stderr


def test_a_fast_burn_pages_once_the_hour_has_seen_enough(tmp_path):
    """20 % errors against a 1 % budget is 20x. The 5 m window is over 14.4x at
    once; the 1 h window reaches 14.4 % after 43.2 minutes of it (20 % x t / 60)."""
    rules = rules_file(tmp_path, [api_slo()])
    quiet = DAY  # the paging windows are at most 6 h
    result = promtool_test(tmp_path, rules, [{
        "interval": "1m", "input_series": traffic(quiet, 120, 120),
        "alert_rule_test": [*fired(f"{quiet + 43}m"), *fired(f"{quiet + 44}m", PAGE)],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_page_carries_its_runbook_and_why(tmp_path):
    rules = rules_file(tmp_path, [api_slo()])
    alert = next(r for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]
                 if r.get("labels", {}).get("severity") == "critical")
    assert alert["annotations"]["runbook_url"] == "https://ops.example.com/runbooks/high-error-rate/"
    assert alert["annotations"]["summary"] == "API: Error rate error budget burning fast"
    assert "14.4x over 1h and 5m or 6x over 6h and 30m" in alert["annotations"]["description"]


def test_a_slow_burn_opens_a_ticket_and_pages_nobody(tmp_path):
    """4 % errors is 4x: under the paging 6x, over the ticket's 3x. The 1 d window
    passes 3 % after 18 h of it (4 % x t / 24 h); the 2 h window is at 4 % already."""
    rules = rules_file(tmp_path, [api_slo()])
    quiet = THREE_DAYS
    result = promtool_test(tmp_path, rules, [{
        "interval": "1m", "input_series": traffic(quiet, 1500, 24),
        "alert_rule_test": [*fired(f"{quiet + 60}m"), *fired(f"{quiet + 1079}m"),
                            *fired(f"{quiet + 1081}m", TICKET), *fired(f"{quiet + 1440}m", TICKET)],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_quiet_service_and_a_short_blip_stay_quiet(tmp_path):
    """Five minutes at 100 % errors spends 500 of 600,000 allowed... the 5 m window
    burns at 100x but the hour at 100 % x 5 / 60 = 8.3 %, under 14.4 %: no page."""
    rules = rules_file(tmp_path, [api_slo()])
    quiet = DAY
    series = traffic(quiet, 5, 600)
    series[0]["values"] += f" {1000000 + 600 * quiet + 600}+600x54"
    series[1]["values"] += f" {5000 + 600 * 5}x54"
    result = promtool_test(tmp_path, rules, [{
        "interval": "1m", "input_series": series,
        "alert_rule_test": [*fired(f"{quiet - 60}m"), *fired(f"{quiet + 5}m"), *fired(f"{quiet + 30}m")],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def test_recording_rules_are_the_error_ratio_per_window(tmp_path):
    rules = rules_file(tmp_path, [api_slo()])
    records = [r for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"] if "record" in r]
    assert [r["record"] for r in records] == [f"slo:sli_error:ratio_rate{w}"
                                              for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")]
    assert records[2]["expr"] == ('((sum(rate(http_requests_total{status=~"5..", job="api" }[1h])) or vector(0))) / '
                                  '(sum(rate(http_requests_total{ job="api" }[1h])))')
    assert records[2]["labels"] == {"service": "api", "slo": "error-rate"}
    quiet = 120
    result = promtool_test(tmp_path, rules, [{
        "interval": "1m", "input_series": traffic(quiet, 60, 30),
        "promql_expr_test": [{"expr": 'slo:sli_error:ratio_rate1h{service="api"}', "eval_time": f"{quiet + 60}m",
                              "exp_samples": [{"labels": 'slo:sli_error:ratio_rate1h{service="api", slo="error-rate"}',
                                               "value": 0.05}]}],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def test_threshold_slos_get_no_rules_and_two_slos_with_one_name_are_refused():
    slo = api_slo()
    SLO.objects.create(service=slo.service, name="P95", query="vector(0)", direction=SLO.BELOW, objective=0.1)
    assert [g["name"] for g in burn_rules.rule_groups(SLO.objects.all())] == ["slo:api:error-rate"]
    api_slo(name="Error  rate")
    with pytest.raises(burn_rules.RulesError, match="two budgeted SLOs"):
        burn_rules.rule_groups(SLO.objects.all())


def test_no_budgeted_slos_is_an_empty_valid_file(tmp_path):
    path = tmp_path / "empty.yml"
    path.write_text(burn_rules.render([]))
    assert yaml.safe_load(path.read_text()) == {"groups": []}
    assert burn_rules.promtool_check(path.read_text()) is None


def test_promtool_check_says_what_is_wrong():
    slo = api_slo()
    slo.error_query = "sum(rate(x[{{ window }}])"
    problem = burn_rules.promtool_check(burn_rules.render([slo]))
    assert problem and "slo_burn_rates.yml" in problem and "unclosed left parenthesis" in problem, problem
