"""Error budgets of SLOs, read live from Prometheus with the SRE workbook's
arithmetic: the share of the window's budget left, how fast it burns over the
last hour and six hours, when it runs out at that pace, and the budget over the
window for a chart. Knows nothing of HTTP; a Prometheus that is down raises
PrometheusUnavailable for the caller to show, a bad query becomes a message.

With a target of 99.9 % the window may hold 0.1 % bad events: that share is the
budget. A burn rate is the bad share over some time divided by it: at 1x the
budget lasts exactly the window, at 14.4x two per cent of a 30-day budget goes
in one hour."""
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from . import prometheus

BURN_WINDOWS = (timedelta(hours=1), timedelta(hours=6))  # the page shows these two burn rates
CHART_POINTS = 240  # points on the budget chart: one every 3 h for 30 days


@dataclass(frozen=True)
class BurnAlert:
    """One of the workbook's window pairs: it fires when both the long and the
    short window burn faster than the rate that spends `budget_spent` of the
    budget within `long` (the short window makes it stop soon after the burn does)."""
    severity: str        # the label Alertmanager and the console route on: critical pages
    long: timedelta
    short: timedelta
    budget_spent: float

    def factor(self, window):
        """The burn rate this pair fires above: 2 % of a 30-day budget in 1 h is 14.4x."""
        return round(self.budget_spent * (window / self.long), 6)


# The SRE workbook's table for a 30-day window (factors 14.4, 6, 3 and 1), as
# Sloth and Pyrra generate it; other windows keep the same budget shares.
PAGE, TICKET = "critical", "warning"
BURN_ALERTS = (
    BurnAlert(PAGE, timedelta(hours=1), timedelta(minutes=5), 0.02),
    BurnAlert(PAGE, timedelta(hours=6), timedelta(minutes=30), 0.05),
    BurnAlert(TICKET, timedelta(days=1), timedelta(hours=2), 0.10),
    BurnAlert(TICKET, timedelta(days=3), timedelta(hours=6), 0.10),
)


def burn_state(slo, burn):
    """bad at the fast paging rate (14.4x for 30 days), warn at the slow one (6x)."""
    if burn is None:
        return "nodata"
    fast, slow = (alert.factor(slo.window) for alert in BURN_ALERTS[:2])
    return "bad" if burn >= fast else "warn" if burn >= slow else "ok"


def format_duration(delta):
    minutes = delta.total_seconds() / 60
    if minutes < 90:
        return f"{minutes:.1f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def format_burn(burn):
    if burn is None:
        return "no data"
    return f"{burn:.2f}×" if 0 < burn < 1 else f"{burn:.1f}×"


@dataclass
class Budget:
    """One SLO's budget now, or why it could not be read."""
    slo: object
    error_ratio: float | None = None     # bad share over the whole window
    burns: tuple = (None, None)           # burn rate over BURN_WINDOWS
    error: str = ""

    @property
    def left(self):
        """Share of the budget left: 1 - (bad share over the window) / (allowed bad share).
        Below zero when the window holds more bad events than the target allows."""
        if self.error_ratio is None:
            return None
        return 1 - self.error_ratio / self.slo.allowed_error_ratio

    @property
    def whole(self):
        """The budget as time fully down: 43.2 min for 99.9 % over 30 days."""
        return self.slo.window * self.slo.allowed_error_ratio

    @property
    def left_time(self):
        return None if self.left is None else self.whole * max(self.left, 0)

    @property
    def exhausted_in(self):
        """When the budget runs out if the last hour's burn goes on: at burn rate
        r the whole budget lasts window / r. None: not burning (or no data)."""
        burn = self.burns[0]
        if self.left is None:
            return None
        if self.left <= 0:
            return timedelta(0)
        if not burn:
            return None
        return self.slo.window * self.left / burn

    @property
    def state(self):
        if self.error:
            return "error"
        if self.left is None:
            return "nodata"
        worst = max((burn_state(self.slo, b) for b in self.burns), key=["nodata", "ok", "warn", "bad"].index)
        return "bad" if self.left <= 0 else worst if worst != "nodata" else "ok"

    # --- as the page shows them ---------------------------------------------

    @property
    def left_text(self):
        return "no data" if self.left is None else f"{self.left * 100:.1f} %"

    @property
    def left_time_text(self):
        return "" if self.left is None else f"{format_duration(self.left_time)} of {format_duration(self.whole)}"

    @property
    def burn_rows(self):
        """[(window text, burn text, state)] for the template."""
        return [(f"{int(w.total_seconds() // 3600)} h", format_burn(b), burn_state(self.slo, b))
                for w, b in zip(BURN_WINDOWS, self.burns)]

    @property
    def exhausted_text(self):
        if self.left is None:
            return ""
        if self.left <= 0:
            return "exhausted"
        if self.exhausted_in is None:
            return "not burning"
        return f"in {format_duration(self.exhausted_in)} at the 1 h burn rate"


def first_value(samples):
    for sample in samples:
        if math.isfinite(sample.value):
            return sample.value
    return None


def read_budget(slo, at=None):
    """The budget of one budgeted SLO at `at` (default: now). Raises
    PrometheusUnavailable; a query Prometheus refuses becomes Budget.error."""
    try:
        ratio = first_value(prometheus.query(slo.error_ratio(slo.window), at=at))
        burns = tuple(_burn(slo, window, at) for window in BURN_WINDOWS)
    except prometheus.PrometheusUnavailable:
        raise
    except prometheus.PrometheusError as exc:
        return Budget(slo, error=str(exc))
    return Budget(slo, error_ratio=ratio, burns=burns)


def _burn(slo, window, at):
    ratio = first_value(prometheus.query(slo.error_ratio(window), at=at))
    return None if ratio is None else ratio / slo.allowed_error_ratio


def read_budgets(service):
    """[Budget] for the service's budgeted SLOs and the threshold SLOs as they
    are -> (budgets, threshold slos, unavailable reason or "")."""
    slos = list(service.slos.all())
    budgeted = [slo for slo in slos if slo.has_budget]
    plain = [slo for slo in slos if not slo.has_budget]
    try:
        return [read_budget(slo) for slo in budgeted], plain, ""
    except prometheus.PrometheusUnavailable as exc:
        return [Budget(slo, error="unreachable") for slo in budgeted], plain, str(exc)


def chart_window(slo, end=None):
    """start, end and step of the budget chart: the whole window, about
    CHART_POINTS points on whole minutes (so viewers share the cached answer)."""
    end = end or datetime.now(timezone.utc)
    end = datetime.fromtimestamp(end.timestamp() // 60 * 60, tz=timezone.utc)
    seconds = slo.window.total_seconds()
    step = max(60, math.ceil(seconds / CHART_POINTS / 60) * 60)
    return end - slo.window, end, step


def budget_series(slo, end=None):
    """The budget left at each step of the window ending at `end`, each point
    over the whole window before it (rolling, like the number) -> (xs, values,
    step); a value is None where the window holds no events. Raises
    PrometheusError/Unavailable.

    Asking Prometheus for the window's ratio at every point would read the
    window's samples once per point (240 times a month of data: far past any
    timeout once a month has been kept). Instead it is asked for the events of
    each step over twice the window, which reads every sample once, and the
    rolling sums are made here."""
    start, end, step = chart_window(slo, end)
    per_window = round(slo.window.total_seconds() / step)
    since = start - timedelta(seconds=per_window * step)
    columns = []
    for template in (slo.error_query, slo.total_query):
        series = prometheus.query_range(slo.events(template, timedelta(seconds=step)), since, end, step)
        xs, values = prometheus.align(series[:1], since, end, step)
        columns.append([v or 0.0 for v in values[0]] if values else [0.0] * len(xs))
    bad, total = (_running_sums(column) for column in columns)
    result = []
    for k in range(per_window, len(xs)):
        events = total[k + 1] - total[k + 1 - per_window]
        errors = bad[k + 1] - bad[k + 1 - per_window]
        result.append(1 - errors / events / slo.allowed_error_ratio if events > 0 else None)
    return xs[per_window:], result, step


def _running_sums(values):
    sums = [0.0]
    for value in values:
        sums.append(sums[-1] + value)
    return sums
