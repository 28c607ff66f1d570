"""What the Services pages show, read live from Prometheus: SLO tiles, targets
and the alerts firing now, each with its runbook link (the incidents app links
them to incidents from the templates). Knows nothing of HTTP; a Prometheus
that is down becomes a message, never an error."""
import math
from dataclasses import dataclass, field

from django.conf import settings

from . import prometheus
from .models import format_value


@dataclass
class Tile:
    slo: object
    value: float | None = None
    state: str = "nodata"         # ok | warn | breach | nodata | error
    error: str = ""

    @property
    def text(self):
        return self.error and "—" or format_value(self.value, self.slo.unit)


@dataclass
class Board:
    """Everything live about one service, or the reason it could not be read."""
    service: object
    tiles: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    alerts: list = field(default_factory=list)
    unavailable: str = ""        # "Prometheus is unreachable ..." when it is

    @property
    def targets_up(self):
        return sum(1 for t in self.targets if t["health"] == "up")

    @property
    def worst(self):
        order = ["breach", "warn", "error", "nodata", "ok"]
        states = [t.state for t in self.tiles] or ["nodata"]
        return min(states, key=order.index)


def first_value(samples):
    for sample in samples:
        if math.isfinite(sample.value):
            return sample.value
    return None


def read_tile(service, slo):
    try:
        value = first_value(prometheus.query(service.promql(slo.query)))
    except prometheus.PrometheusUnavailable:
        raise
    except prometheus.PrometheusError as exc:
        return Tile(slo, state="error", error=str(exc))
    return Tile(slo, value=value, state=slo.state(value))


def board_for(service, *, all_targets=None, all_alerts=None):
    """Read one service's tiles, targets and alerts. Pass targets and alerts
    already fetched when drawing many services (one query each for the page)."""
    board = Board(service)
    try:
        board.tiles = [read_tile(service, slo) for slo in service.slos.all()]
        if all_targets is None:
            all_targets = prometheus.targets()
        if all_alerts is None:
            all_alerts = firing_alerts()
    except prometheus.PrometheusUnavailable as exc:
        board.unavailable = str(exc)
        board.tiles = [Tile(slo, state="error", error="unreachable") for slo in service.slos.all()]
        return board
    board.targets = [t for t in all_targets if service.matches(t["labels"])]
    board.alerts = [a for a in all_alerts if service.matches(a["labels"])]
    return board


def boards(services):
    """Boards for many services and the alerts firing now, with one targets and
    one alerts query for the whole page -> (boards, alerts, unavailable reason).
    After an unreachable answer nothing more is asked (see the breaker)."""
    try:
        all_targets, all_alerts = prometheus.targets(), firing_alerts()
    except prometheus.PrometheusUnavailable as exc:
        return [Board(s, tiles=[Tile(slo, state="error", error="unreachable") for slo in s.slos.all()],
                      unavailable=str(exc)) for s in services], [], str(exc)
    result = [board_for(s, all_targets=all_targets, all_alerts=all_alerts) for s in services]
    down = next((b.unavailable for b in result if b.unavailable), "")
    return result, all_alerts, down


# --- alerts ---------------------------------------------------------------------

def fingerprint(labels):
    """Alertmanager's fingerprint of a label set (FNV-1a 64 over the sorted
    names and values, each followed by 0xff), so an alert Prometheus shows can
    be matched to the incident Alertmanager's webhook opened for it."""
    h = 0xcbf29ce484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                h ^= byte
                h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def runbook_path(url):
    """A runbook_url that points at this console becomes a local path."""
    if url and url.startswith(settings.BASE_URL + "/"):
        return url[len(settings.BASE_URL):]
    return url or ""


def firing_alerts():
    """Alerts Prometheus holds now, firing first, each with its runbook link and
    the fingerprint its incident is found by ({% with_incidents %}, incidents' tags)."""
    result = []
    for alert in prometheus.alerts():
        labels, annotations = alert.get("labels", {}), alert.get("annotations", {})
        result.append({
            "name": labels.get("alertname", "?"),
            "severity": labels.get("severity", ""),
            "state": alert.get("state", ""),
            "labels": labels,
            "summary": annotations.get("summary", ""),
            "description": annotations.get("description", ""),
            "runbook_url": runbook_path(annotations.get("runbook_url", "")),
            "active_at": prometheus.parse_time(alert.get("activeAt")),
            "fingerprint": fingerprint(labels),
        })
    result.sort(key=lambda a: (a["state"] != "firing", a["severity"] != "critical", a["name"]))
    return result


def unreachable_message():
    """None when Prometheus answers, else the reason (cached, breaker-guarded)."""
    try:
        prometheus.query("vector(1)")
    except prometheus.PrometheusUnavailable as exc:
        return str(exc)
    except prometheus.PrometheusError:
        return None
    return None
