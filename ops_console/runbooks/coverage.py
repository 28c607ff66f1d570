"""Alert-rule coverage: every alerting rule Prometheus has loaded, with the
runbook that answers it, and the share of rules that have one. A rule is
covered by the runbook whose `alerts:` names it, else by the runbook its
runbook_url annotation points to on this console (/runbooks/<slug>/), the
same two ways an incident finds its runbook when the alert comes in."""
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from ops_console.monitoring import prometheus

from .models import Runbook


@dataclass
class RuleCoverage:
    alert: str
    group: str
    file: str
    severity: str = ""
    runbook_url: str = ""
    runbook: Runbook | None = None
    matched_by: str = ""            # "alerts" (the runbook names it) | "runbook_url" | "" (none)
    firing: bool = False


@dataclass
class Coverage:
    rules: list = field(default_factory=list)    # [RuleCoverage], sorted: uncovered first

    @property
    def covered(self):
        return sum(1 for rule in self.rules if rule.runbook)

    @property
    def percent(self):
        """None when Prometheus has no alerting rule (nothing to cover)."""
        return round(100.0 * self.covered / len(self.rules), 1) if self.rules else None

    @property
    def missing(self):
        return [rule for rule in self.rules if not rule.runbook]


def console_slug(url):
    """The runbook slug of a runbook_url on this console, else None. A
    relative /runbooks/<slug>/ counts; an absolute one must be on BASE_URL."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return None
    if parts.netloc:
        base = urlsplit(settings.BASE_URL)
        if (parts.scheme.lower(), parts.netloc.lower()) != (base.scheme.lower(), base.netloc.lower()):
            return None
    path = [p for p in parts.path.split("/") if p]
    base_path = [p for p in urlsplit(settings.BASE_URL).path.split("/") if p] if parts.netloc else []
    if path[:len(base_path)] != base_path:
        return None
    path = path[len(base_path):]
    return path[1] if len(path) == 2 and path[0] == "runbooks" else None


def coverage(url=None):
    """Coverage of the rules Prometheus has loaded now. Raises
    prometheus.PrometheusError when it cannot be asked."""
    runbooks = list(Runbook.objects.filter(archived=False).only("pk", "slug", "title", "alerts"))
    by_alert, by_slug = {}, {runbook.slug: runbook for runbook in runbooks}
    for runbook in runbooks:
        for name in runbook.alerts or []:
            by_alert.setdefault(name, runbook)
    rules = []
    for group in prometheus.rules(url):
        for rule in group.get("rules", []):
            if rule.get("type") != "alerting":
                continue
            name, annotations = rule.get("name", ""), rule.get("annotations") or {}
            entry = RuleCoverage(alert=name, group=group.get("name", ""), file=group.get("file", ""),
                                 severity=(rule.get("labels") or {}).get("severity", ""),
                                 runbook_url=annotations.get("runbook_url", ""),
                                 firing=rule.get("state") == "firing")
            if name in by_alert:
                entry.runbook, entry.matched_by = by_alert[name], "alerts"
            elif console_slug(entry.runbook_url) in by_slug:
                entry.runbook, entry.matched_by = by_slug[console_slug(entry.runbook_url)], "runbook_url"
            rules.append(entry)
    rules.sort(key=lambda rule: (rule.runbook is not None, rule.alert, rule.group))
    return Coverage(rules)
