"""Error budgets against a month of hand-made history in a real Prometheus
(backfilled TSDB blocks, see history.py): the budget left, the burn rates, the
time to exhaustion and the chart are the numbers a person computes by hand."""
from datetime import timedelta

import pytest

from ops_console.monitoring import budgets, prometheus
from ops_console.monitoring.models import SLO, Service

from . import history

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ERRORS = '(sum(rate(http_requests_total{status=~"5..", {{ selector }} }[{{ window }}])) or vector(0))'
REQUESTS = "sum(rate(http_requests_total{ {{ selector }} }[{{ window }}]))"
BAD_SCRAPES = ("sum(count_over_time(up{ {{ selector }} }[{{ window }}]))"
               " - sum(sum_over_time(up{ {{ selector }} }[{{ window }}]))")
SCRAPES = "sum(count_over_time(up{ {{ selector }} }[{{ window }}]))"


def budgeted(name="Error rate", errors=ERRORS, total=REQUESTS, target=99.9, selector=history.SELECTOR, **extra):
    service, _ = Service.objects.get_or_create(slug="history", defaults=dict(name="History", selector=selector))
    return SLO.objects.create(service=service, name=name, query="vector(0)", direction=SLO.BELOW, objective=1,
                              target=target, error_query=errors, total_query=total, **extra)


@pytest.fixture
def history_at(settings, history_prometheus):
    settings.PROMETHEUS_URL = history_prometheus.url
    return history_prometheus.end


def test_budget_left_burn_rates_and_exhaustion_match_the_hand_computed_month(history_at):
    budget = budgets.read_budget(budgeted(), at=history_at)
    assert budget.error == ""
    assert budget.error_ratio == pytest.approx(history.ERROR_RATIO_30D, rel=1e-9)
    assert budget.left == pytest.approx(history.BUDGET_LEFT, rel=1e-9)          # 61.8 %
    assert budget.burns == (pytest.approx(history.BURN_1H, rel=1e-9), pytest.approx(history.BURN_6H, rel=1e-9))
    assert budget.whole == timedelta(minutes=43.2)                                # 0.1 % of 30 days
    assert budget.left_time.total_seconds() == pytest.approx(43.2 * 60 * history.BUDGET_LEFT)
    # At 50x the whole budget lasts 30 days / 50 = 14.4 h; 61.8 % of it, 8.9 h.
    assert budget.exhausted_in.total_seconds() == pytest.approx(30 * 86400 * history.BUDGET_LEFT / 50)
    assert (budget.left_text, budget.left_time_text, budget.exhausted_text) == \
        ("61.8 %", "26.7 min of 43.2 min", "in 8.9 h at the 1 h burn rate")
    assert budget.burn_rows == [("1 h", "50.0×", "bad"), ("6 h", "12.5×", "warn")]  # red >= 14.4, amber >= 6
    assert budget.state == "bad"


def test_an_availability_budget_counts_failed_scrapes(history_at):
    slo = budgeted(name="Availability", errors=BAD_SCRAPES, total=SCRAPES)
    budget = budgets.read_budget(slo, at=history_at)
    assert budget.left == pytest.approx(history.AVAILABILITY_LEFT, rel=1e-9)      # 30 of 43 minutes spent
    assert budget.burns == (0, 0)
    assert (budget.left_text, budget.exhausted_text) == ("30.6 %", "not burning")
    assert budget.burn_rows == [("1 h", "0.0×", "ok"), ("6 h", "0.0×", "ok")]
    assert budget.state == "ok"


def test_a_lower_target_has_a_bigger_budget(history_at):
    budget = budgets.read_budget(budgeted(target=99.0), at=history_at)
    assert budget.left == pytest.approx(1 - history.ERROR_RATIO_30D / 0.01, rel=1e-9)
    assert budget.burns[0] == pytest.approx(5.0, rel=1e-9)                        # 5 % of a 1 % budget
    assert budget.burn_rows[0] == ("1 h", "5.0×", "ok")
    assert budget.whole == timedelta(hours=7.2)


def test_the_chart_is_the_rolling_budget_over_the_window(history_at):
    xs, values, step = budgets.budget_series(budgeted(), end=history_at)
    assert step == 10800 and len(xs) == len(values) == 241                       # 240 steps of 3 h
    assert (xs[0], xs[-1]) == ((history_at - timedelta(days=30)).timestamp(), history_at.timestamp())
    assert values[-1] == pytest.approx(history.BUDGET_LEFT, rel=1e-9)            # the number, to the last digit
    # 21 days before the end the window held only the quiet days before the incident...
    assert values[72] == pytest.approx(1.0)
    # ...two days later the incident's 7,200 errors of 12 days' 10,368,000 requests.
    assert values[88] == pytest.approx(1 - (7_200 / 10_368_000) / 0.001, rel=1e-9)
    # A window that reaches back before the first sample holds only what there is;
    # the chart starts 30 days back, where the month of history began a day before.
    assert values[0] == pytest.approx(1.0)


def test_the_chart_reads_each_sample_once_not_once_per_point(history_at, monkeypatch):
    """A month of samples read 241 times would be far past the timeout on a real
    month of data: the chart asks for the events of each 3 h step instead."""
    asked, real = [], prometheus.query_range

    def query_range(expr, *args, **kwargs):
        asked.append(expr)
        return real(expr, *args, **kwargs)

    monkeypatch.setattr(prometheus, "query_range", query_range)
    budgets.budget_series(budgeted(), end=history_at)
    assert len(asked) == 2 and all("[3h]" in expr for expr in asked), asked


def test_no_events_is_no_data_not_a_full_budget(history_at):
    budget = budgets.read_budget(budgeted(selector='job="nothing"'), at=history_at)
    assert budget.left is None and budget.burns == (None, None) and budget.state == "nodata"
    assert budget.left_text == "no data" and budget.exhausted_text == ""


def test_a_query_prometheus_refuses_is_a_message(history_at):
    budget = budgets.read_budget(budgeted(errors="sum(rate(x[{{ window }}])"), at=history_at)
    assert budget.state == "error" and "parse error" in budget.error


def test_an_unreachable_prometheus_is_said_once_for_the_service(dead_prometheus):
    slo = budgeted()
    with pytest.raises(prometheus.PrometheusUnavailable):
        budgets.read_budget(slo)
    read, thresholds, unavailable = budgets.read_budgets(slo.service)
    assert "Prometheus is unreachable" in unavailable
    assert [b.state for b in read] == ["error"] and thresholds == []


def test_threshold_slos_have_no_budget(dead_prometheus):
    slo = budgeted()
    plain = SLO.objects.create(service=slo.service, name="P95", query="vector(0)", direction=SLO.BELOW,
                               objective=0.1, unit="seconds")
    assert not plain.has_budget
    assert budgets.read_budgets(slo.service)[1] == [plain]


@pytest.mark.parametrize("window_days, factors", [(30, [14.4, 6, 3, 1]), (28, [13.44, 5.6, 2.8, 0.933333])])
def test_burn_factors_are_the_workbooks(window_days, factors):
    window = timedelta(days=window_days)
    assert [alert.factor(window) for alert in budgets.BURN_ALERTS] == factors
    assert [(a.severity, a.long, a.short) for a in budgets.BURN_ALERTS] == [
        ("critical", timedelta(hours=1), timedelta(minutes=5)), ("critical", timedelta(hours=6), timedelta(minutes=30)),
        ("warning", timedelta(days=1), timedelta(hours=2)), ("warning", timedelta(days=3), timedelta(hours=6))]
