"""Services as data: what a service is, how to find it in Prometheus, its SLOs
and dashboard panels. PromQL in SLOs and panels is a template: `{{ selector }}`
becomes the service's label matchers, e.g. `up{ {{ selector }} }`; an SLO's
error and total queries also take `{{ window }}`, a range such as 5m or 30d."""
import math
import re
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.text import slugify

SELECTOR_PLACEHOLDER = re.compile(r"\{\{\s*selector\s*\}\}")
WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*window\s*\}\}")

UNITS = [
    ("seconds", "seconds"),
    ("percent", "percent (0-100)"),
    ("ratio", "ratio (0-1, shown as %)"),
    ("bytes", "bytes"),
    ("per_second", "per second"),
    ("count", "count"),
]


def format_value(value, unit):
    """A number as a person reads it: 85 ms, 0.42 %, 99.95 %, 48 MiB."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "no data"
    if unit == "seconds":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    if unit == "percent":
        return f"{value:.2f} %"
    if unit == "bytes":
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if abs(value) < 1024:
                return f"{value:.0f} {suffix}"
            value /= 1024
        return f"{value:.1f} TiB"
    if unit == "per_second":
        return f"{value:.2f}/s"
    return f"{value:g}"


class Service(models.Model):
    slug = models.SlugField(unique=True, help_text="Stable name used in URLs, runbooks and alert labels")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.CharField(max_length=200, blank=True, help_text="Team or person that owns the service")
    # PromQL label matchers without braces, e.g. job="backend"; templates use it as {{ selector }}.
    selector = models.CharField(max_length=500, blank=True)
    links = models.JSONField(default=list, blank=True, help_text='[{"title": ..., "url": ...}]')
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("monitoring:detail", args=[self.slug])

    def promql(self, template):
        """A PromQL template with this service's selector filled in."""
        return SELECTOR_PLACEHOLDER.sub(lambda _: self.selector, template)

    def selector_labels(self):
        """The equality matchers of the selector as a dict (job="x" -> {"job": "x"}),
        used to tell which targets and alerts belong to the service."""
        return dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', re.sub(r'\w+\s*(!=|=~|!~)\s*"[^"]*"', "", self.selector)))

    def matches(self, labels):
        """Do these alert or target labels belong to the service?"""
        if labels.get("service") == self.slug:
            return True
        wanted = self.selector_labels()
        return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def prometheus_duration(delta):
    """A timedelta as a PromQL range: 30d, 6h, 5m, 90s."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class SLO(models.Model):
    """An objective: the value of `query` must stay below (or above) `objective`.
    Between `warning` and `objective` the tile turns amber.

    With a `target` it also has an error budget (the SRE workbook's SLO): over
    `window_days`, at least `target` percent of events must be good, events
    being counted by two PromQL templates, `error_query` (bad events) and
    `total_query` (all events), each over `{{ window }}`; their ratio is the
    error ratio. Without a target it is a plain threshold with no budget."""
    BELOW, ABOVE = "below", "above"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="slos")
    name = models.CharField(max_length=200, help_text="e.g. P95 latency")
    query = models.TextField(help_text="PromQL template returning one number; {{ selector }} is filled in")
    direction = models.CharField(max_length=5, choices=[(BELOW, "must stay below"), (ABOVE, "must stay above")])
    objective = models.FloatField(help_text="The threshold, in the unit's base (seconds, ratio, percent)")
    warning = models.FloatField(null=True, blank=True, help_text="Amber from here on; empty: no amber")
    unit = models.CharField(max_length=20, choices=UNITS, default="count")
    position = models.PositiveIntegerField(default=0)
    target = models.FloatField(null=True, blank=True,
                               help_text="Error budget: percent of good events over the window, e.g. 99.9; "
                                         "empty: a threshold objective with no budget")
    window_days = models.PositiveSmallIntegerField(default=30, help_text="The error budget's rolling window")
    error_query = models.TextField(blank=True, help_text="PromQL template: bad events over {{ window }}, e.g. "
                                   'sum(rate(http_requests_total{status=~"5..", {{ selector }} }[{{ window }}]))')
    total_query = models.TextField(blank=True, help_text="PromQL template: all events over {{ window }}, e.g. "
                                   "sum(rate(http_requests_total{ {{ selector }} }[{{ window }}]))")
    runbook = models.SlugField(blank=True, help_text="Runbook linked from the burn-rate alerts, e.g. service-down")

    class Meta:
        ordering = ["service", "position", "id"]
        verbose_name = "SLO"

    def __str__(self):
        return f"{self.service}: {self.name} {self.target_text}"

    @property
    def target_text(self):
        return f"{'<' if self.direction == self.BELOW else '>'} {format_value(self.objective, self.unit)}"

    def clean(self):
        errors = {}
        if self.warning is not None:
            inside = self.warning <= self.objective if self.direction == self.BELOW else self.warning >= self.objective
            if not inside:
                errors["warning"] = "The warning level must be on the good side of the objective."
        if self.target is not None:
            if not 0 < self.target < 100:
                errors["target"] = "The target is a percentage between 0 and 100 (exclusive), e.g. 99.9."
            for name in ("error_query", "total_query"):
                if not WINDOW_PLACEHOLDER.search(getattr(self, name)):
                    errors[name] = "A budgeted SLO counts events over {{ window }}: use it as a range, [{{ window }}]."
        elif self.error_query or self.total_query:
            errors["target"] = "Error and total queries make an error budget only with a target."
        if not self.window_days:
            errors["window_days"] = "The window is at least one day."
        if errors:
            raise ValidationError(errors)

    # --- the error budget ---------------------------------------------------

    @property
    def has_budget(self):
        return self.target is not None

    @property
    def allowed_error_ratio(self):
        """The share of events that may be bad: 0.001 for a 99.9 % target."""
        return round((100 - self.target) / 100, 12)  # 0.001, not 0.0010000000000000009

    @property
    def window(self):
        return timedelta(days=self.window_days)

    @property
    def slug(self):
        """The SLO's name as the `slo` label of its rules: "Error rate" -> error-rate."""
        return slugify(self.name)

    @property
    def budget_text(self):
        return f"{self.target:g} % over {self.window_days} days"

    def events(self, template, window):
        """One of the event templates (error_query, total_query) as PromQL over
        window (a timedelta or "5m"), with this service's selector filled in."""
        window = window if isinstance(window, str) else prometheus_duration(window)
        return self.service.promql(WINDOW_PLACEHOLDER.sub(window, template)).strip()

    def error_ratio(self, window):
        """PromQL for the error ratio over window: bad events over all events."""
        return f"({self.events(self.error_query, window)}) / ({self.events(self.total_query, window)})"

    def state(self, value):
        """ok / warn / breach for a value; nodata when there is none."""
        if value is None or not math.isfinite(value):
            return "nodata"
        sign = 1 if self.direction == self.BELOW else -1
        if sign * value >= sign * self.objective:
            return "breach"
        if self.warning is not None and sign * value >= sign * self.warning:
            return "warn"
        return "ok"


class Panel(models.Model):
    """A chart on the service's dashboard: one PromQL template, one line per series."""
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="panels")
    title = models.CharField(max_length=200)
    query = models.TextField(help_text="PromQL template; {{ selector }} is filled in")
    unit = models.CharField(max_length=20, choices=UNITS, default="count")
    legend = models.CharField(max_length=200, blank=True,
                              help_text="Label whose value names each line, e.g. instance; empty: all labels")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["service", "position", "id"]

    def __str__(self):
        return f"{self.service}: {self.title}"
