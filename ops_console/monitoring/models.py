"""Services as data: what a service is, how to find it in Prometheus, its SLOs
and dashboard panels. PromQL in SLOs and panels is a template: `{{ selector }}`
becomes the service's label matchers, e.g. `up{ {{ selector }} }`."""
import math
import re

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

SELECTOR_PLACEHOLDER = re.compile(r"\{\{\s*selector\s*\}\}")

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


class SLO(models.Model):
    """An objective: the value of `query` must stay below (or above) `objective`.
    Between `warning` and `objective` the tile turns amber."""
    BELOW, ABOVE = "below", "above"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="slos")
    name = models.CharField(max_length=200, help_text="e.g. P95 latency")
    query = models.TextField(help_text="PromQL template returning one number; {{ selector }} is filled in")
    direction = models.CharField(max_length=5, choices=[(BELOW, "must stay below"), (ABOVE, "must stay above")])
    objective = models.FloatField(help_text="The threshold, in the unit's base (seconds, ratio, percent)")
    warning = models.FloatField(null=True, blank=True, help_text="Amber from here on; empty: no amber")
    unit = models.CharField(max_length=20, choices=UNITS, default="count")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["service", "position", "id"]
        verbose_name = "SLO"

    def __str__(self):
        return f"{self.service}: {self.name} {self.target_text}"

    @property
    def target_text(self):
        return f"{'<' if self.direction == self.BELOW else '>'} {format_value(self.objective, self.unit)}"

    def clean(self):
        if self.warning is None:
            return
        inside = self.warning <= self.objective if self.direction == self.BELOW else self.warning >= self.objective
        if not inside:
            raise ValidationError({"warning": "The warning level must be on the good side of the objective."})

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
