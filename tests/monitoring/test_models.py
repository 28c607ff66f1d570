"""Services as data: PromQL templates, SLO states, formatting, label matching."""
import pytest
from django.core.exceptions import ValidationError

from ops_console.monitoring.board import fingerprint
from ops_console.monitoring.models import SLO, Service, format_value


def test_selector_fills_the_promql_template():
    service = Service(selector='job="backend", env="prod"')
    assert service.promql("up{ {{ selector }} }") == 'up{ job="backend", env="prod" }'
    assert service.promql('rate(x{status=~"5..", {{selector}}}[5m])') == \
        'rate(x{status=~"5..", job="backend", env="prod"}[5m])'


@pytest.mark.parametrize("value, state", [(0.05, "ok"), (0.085, "warn"), (0.1, "breach"), (0.3, "breach"),
                                          (None, "nodata"), (float("nan"), "nodata")])
def test_below_objective_states(value, state):
    slo = SLO(direction=SLO.BELOW, objective=0.1, warning=0.08)
    assert slo.state(value) == state


@pytest.mark.parametrize("value, state", [(99.99, "ok"), (99.92, "warn"), (99.9, "breach"), (50, "breach")])
def test_above_objective_states(value, state):
    slo = SLO(direction=SLO.ABOVE, objective=99.9, warning=99.95)
    assert slo.state(value) == state


def test_without_warning_there_is_no_amber():
    assert SLO(direction=SLO.BELOW, objective=0.01).state(0.0099) == "ok"


def test_warning_on_the_wrong_side_is_refused():
    with pytest.raises(ValidationError):
        SLO(direction=SLO.ABOVE, objective=99.9, warning=99.0).clean()


@pytest.mark.parametrize("value, unit, text", [(0.085, "seconds", "85 ms"), (2.5, "seconds", "2.50 s"),
                                               (0.0042, "ratio", "0.42 %"), (99.95, "percent", "99.95 %"),
                                               (50331648, "bytes", "48 MiB"), (None, "count", "no data")])
def test_values_read_like_a_person_writes_them(value, unit, text):
    assert format_value(value, unit) == text


def test_target_text():
    assert SLO(direction=SLO.BELOW, objective=0.1, unit="seconds").target_text == "< 100 ms"


def test_alerts_and_targets_belong_to_a_service_by_selector_or_service_label():
    service = Service(slug="backend", selector='job="backend", env=~"prod|staging"')
    assert service.matches({"job": "backend", "instance": "a:1"})
    assert not service.matches({"job": "ai_core"})
    assert service.matches({"service": "backend"})
    assert not Service(slug="x", selector="").matches({"job": "backend"})


def test_fingerprint_matches_alertmanagers():
    # Alertmanager's fingerprint of {alertname="ServiceDown", job="backend"} (model.LabelSet.Fingerprint).
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"b": "2", "a": "1"}) == fingerprint({"a": "1", "b": "2"})


# --- error budgets ------------------------------------------------------------------

def budgeted(**extra):
    fields = dict(name="Error rate", direction=SLO.BELOW, objective=0.01, query="vector(0)", target=99.9,
                  error_query='sum(rate(x{code="500", {{ selector }} }[{{ window }}]))',
                  total_query="sum(rate(x{ {{ selector }} }[{{window}}]))")
    fields.update(extra)
    return SLO(service=Service(slug="api", selector='job="api"'), **fields)


def test_the_error_ratio_fills_selector_and_window():
    from datetime import timedelta

    slo = budgeted()
    assert slo.error_ratio(timedelta(days=30)) == \
        '(sum(rate(x{code="500", job="api" }[30d]))) / (sum(rate(x{ job="api" }[30d])))'
    assert slo.error_ratio("5m").endswith("[5m])))")
    assert slo.error_ratio(timedelta(minutes=90)).endswith("[90m])))")


def test_a_budget_is_the_share_the_target_leaves():
    assert budgeted(target=99.9).allowed_error_ratio == 0.001
    assert budgeted(target=99.0).allowed_error_ratio == 0.01
    assert budgeted(target=99.95).allowed_error_ratio == 0.0005
    slo = budgeted()
    assert slo.has_budget and slo.window_days == 30 and slo.budget_text == "99.9 % over 30 days"
    assert slo.slug == "error-rate"
    assert not SLO(direction=SLO.BELOW, objective=0.1).has_budget


@pytest.mark.parametrize("fields, field", [
    (dict(target=100), "target"), (dict(target=0), "target"),
    (dict(error_query="sum(rate(x[5m]))"), "error_query"),        # no {{ window }}: not a budget
    (dict(total_query=""), "total_query"),
    (dict(target=None), "target"),                                # queries without a target
    (dict(window_days=0), "window_days"),
])
def test_an_incomplete_budget_is_refused(fields, field):
    with pytest.raises(ValidationError) as refused:
        budgeted(**fields).clean()
    assert field in refused.value.message_dict


def test_a_threshold_slo_needs_no_budget_fields():
    SLO(direction=SLO.BELOW, objective=0.1, query="up").clean()
    budgeted().clean()
