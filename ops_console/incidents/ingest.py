"""Alert intake: Alertmanager's webhook payload (version 4) and generic events
become incidents, alerts and timeline events.

Alertmanager delivers at least once and retries only on 5xx, so: a body we
cannot read is a 400 (kept for inspection), a failure of ours is a 5xx (the
alert comes again), and everything is idempotent. An alert instance is its
fingerprint plus its start time; its state is its own `status`, never endsAt.
Alertmanager deliveries are queued and applied in order by alert_queue.py;
events are applied at once by receive_event()."""
import hashlib
import json
import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlparse

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from ops_console.audit import log as audit
from ops_console.database import copy_create
from ops_console.monitoring.models import Service
from ops_console.runbooks.models import Runbook

from . import actions
from .models import Alert, AlertRouting, Incident, Status, TimelineEvent, TransitionNotAllowed, WebhookPayload
from .timeline import Kind, add_event

MAX_BODY_BYTES = 1024 * 1024
STORED_BODY_CHARS = 64 * 1024  # what we keep of a body we refuse for its size
ALERT_STATES = ("firing", "resolved")
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
logger = logging.getLogger(__name__)


class PayloadError(ValueError):
    """The body is not something we accept (400); the message says what is wrong."""


@dataclass
class IncomingAlert:
    status: str
    fingerprint: str
    starts_at: datetime
    ends_at: datetime | None
    labels: dict
    annotations: dict
    generator_url: str = ""
    payload_id: int | None = None  # the delivery it came in (several are applied together)

    @property
    def name(self):
        return self.labels.get("alertname", "")


@dataclass
class Event:
    action: str
    dedup_key: str
    title: str = ""
    severity: str = ""
    service: str = ""
    summary: str = ""
    details: dict = field(default_factory=dict)


# --- parsing ---------------------------------------------------------------

def load_json(body):
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"malformed JSON: {exc}") from None


def _string_map(value, where):
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PayloadError(f"{where} must be an object of strings")
    return value


def _time(value, where, required=True):
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(f"{where} is not an RFC 3339 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise PayloadError(f"{where} has no time zone: {value[:40]!r}")
    return None if parsed.year <= 1 else parsed  # Alertmanager's zero time: no end yet


def fingerprint_of(labels):
    """Alertmanager always sends one; this stands in for very old senders."""
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_alertmanager(body):
    """Validate a whole webhook body before touching anything: [IncomingAlert]."""
    data = load_json(body)
    if not isinstance(data, dict):
        raise PayloadError("the body must be a JSON object (Alertmanager webhook payload)")
    if str(data.get("version", "")) != "4":
        raise PayloadError(f"unsupported payload version {data.get('version')!r}: expected \"4\"")
    raw_alerts = data.get("alerts")
    if not isinstance(raw_alerts, list):
        raise PayloadError("\"alerts\" must be a list")
    alerts = []
    for i, raw in enumerate(raw_alerts):
        where = f"alerts[{i}]"
        if not isinstance(raw, dict):
            raise PayloadError(f"{where} must be an object")
        status = raw.get("status")
        if status not in ALERT_STATES:
            raise PayloadError(f"{where}.status: unknown status {status!r} (expected firing or resolved)")
        labels = _string_map(raw.get("labels"), f"{where}.labels")
        fingerprint = raw.get("fingerprint") or fingerprint_of(labels)
        if not isinstance(fingerprint, str) or len(fingerprint) > 128:
            raise PayloadError(f"{where}.fingerprint must be a string of at most 128 characters")
        generator_url = raw.get("generatorURL") or ""
        if not isinstance(generator_url, str):
            raise PayloadError(f"{where}.generatorURL must be a string")
        alerts.append(IncomingAlert(
            status=status, fingerprint=fingerprint, labels=labels,
            annotations=_string_map(raw.get("annotations"), f"{where}.annotations"),
            starts_at=_time(raw.get("startsAt"), f"{where}.startsAt"),
            ends_at=_time(raw.get("endsAt"), f"{where}.endsAt", required=False),
            generator_url=generator_url))
        if alerts[-1].starts_at is None:
            raise PayloadError(f"{where}.startsAt is missing")
    return alerts


def parse_event(body):
    data = load_json(body)
    if not isinstance(data, dict):
        raise PayloadError("the body must be a JSON object")
    action = data.get("event_action")
    if action not in EVENT_ACTIONS:
        raise PayloadError(f"event_action: unknown action {action!r} (expected trigger, acknowledge or resolve)")
    texts = {}
    for key in ("dedup_key", "title", "severity", "service", "summary"):
        value = data.get(key, "")
        if not isinstance(value, str):
            raise PayloadError(f"{key} must be a string")
        texts[key] = value.strip()
    if not texts["dedup_key"] or len(texts["dedup_key"]) > 300:
        raise PayloadError("dedup_key is required (at most 300 characters)")
    if action == "trigger" and not texts["title"]:
        raise PayloadError("title is required to trigger")
    details = data.get("details", {})
    if not isinstance(details, dict):
        raise PayloadError("details must be an object")
    return Event(action=action, details=details, **texts)


# --- routing ---------------------------------------------------------------

def dedup_key(alert, labels):
    """The incident an alert belongs to: its fingerprint, or the values of the dedup labels."""
    if not labels:
        return alert.fingerprint
    return ",".join(f"{name}={alert.labels.get(name, '')}" for name in labels)[:300]


class Router:
    """The routing configuration and the lookups one payload needs, each
    loaded once and only when needed (most deliveries open no incident)."""

    def __init__(self):
        self.routing = AlertRouting.current()
        self.dedup_labels = self.routing.dedup_label_list()
        self._mappings = None
        self._services = {}
        self._runbooks = None

    @property
    def mappings(self):
        if self._mappings is None:
            self._mappings = {m.value.lower(): m.severity for m in
                              self.routing.mappings.select_related("severity")}
        return self._mappings

    def severity_for(self, value):
        return self.mappings.get((value or "").strip().lower(), self.routing.default_severity)

    def dedup_key(self, alert):
        return dedup_key(alert, self.dedup_labels)

    def services_for(self, labels):
        """The service named by the `service` label, else the one whose slug
        or Prometheus selector matches the `job` label (job="ai_core")."""
        service, job = labels.get("service", ""), labels.get("job", "")
        if (service, job) not in self._services:
            match = Q(slug__in=[name for name in (service, job) if name])
            if job:
                match |= Q(selector=f'job="{job}"')
            found = list(Service.objects.filter(match)) if service or job else []
            ranked = sorted(found, key=lambda s: (s.slug != service, s.slug != job))
            self._services[(service, job)] = ranked[:1]
        return self._services[(service, job)]

    def runbook_for(self, name, runbook_url=""):
        """The runbook whose `alerts` names the alert, else the console runbook
        its runbook_url annotation points to (/runbooks/<slug>/)."""
        if self._runbooks is None:
            # Indexed once per router: a storm asks this for every incident it opens.
            by_alert, by_slug = {}, {}
            for runbook in Runbook.objects.filter(archived=False).only("pk", "slug", "alerts", "title"):
                by_slug[runbook.slug] = runbook
                for alert_name in runbook.alerts or []:
                    if isinstance(alert_name, str):
                        by_alert.setdefault(alert_name, runbook)  # in title order, the first naming it
            self._runbooks = by_alert, by_slug
        by_alert, by_slug = self._runbooks
        if name and name in by_alert:
            return by_alert[name]
        parts = [p for p in urlparse(runbook_url or "").path.split("/") if p]
        if len(parts) == 2 and parts[0] == "runbooks":
            return by_slug.get(parts[1])
        return None


# --- applying --------------------------------------------------------------

def _alert_title(alert):
    summary = alert.annotations.get("summary", "").strip()
    name = alert.name or "Alert"
    return f"{name}: {summary}" if summary else name


def _incident_fields(router, alert=None, event=None):
    """do_open_incident's arguments for the incident an alert or an event opens."""
    if alert is not None:
        labels = alert.labels
        severity = router.severity_for(labels.get(router.routing.severity_label))
        return dict(title=_alert_title(alert), severity=severity, services=router.services_for(labels),
                    summary=alert.annotations.get("description", ""),
                    runbook=router.runbook_for(alert.name, alert.annotations.get("runbook_url", "")),
                    detected_at=alert.starts_at, message=f"Opened by alert {alert.name or alert.fingerprint}.")
    return dict(title=event.title, severity=router.severity_for(event.severity),
                services=router.services_for({"service": event.service}), summary=event.summary,
                runbook=None, message="Opened by an event (trigger).")


def _open_incident_for(router, key, alert=None, event=None, source="alertmanager"):
    """Open the incident for a dedup key that has no open one. The partial
    unique index settles a race between two deliveries: the loser joins the
    winner's incident."""
    fields = _incident_fields(router, alert=alert, event=event)
    try:  # do_open_incident is atomic: inside our transaction, a savepoint
        return actions.do_open_incident(acting_user=None, dedup_key=key, source=source, **fields), True
    except IntegrityError:
        return Incident.objects.open().get(dedup_key=key), False


def _open_incidents_for(router, firsts):
    """Open the incidents of several dedup keys that have no open one
    (`firsts`: [(key, the first alert of it)] in key order); returns
    {key: (incident, opened by us)}. All at once, in a fixed number of
    queries; when another delivery opened some of the keys meanwhile (the
    unique index says so), those join its incidents and the rest are opened again."""
    found = {}
    for _ in range(3):
        try:  # do_open_incidents is atomic: inside our transaction, a savepoint
            opened = actions.do_open_incidents([dict(dedup_key=key, source="alertmanager",
                                                     **_incident_fields(router, alert=alert)) for key, alert in firsts])
            return found | {key: (incident, True) for (key, _), incident in zip(firsts, opened)}
        except IntegrityError:
            taken = {i.dedup_key: i for i in Incident.objects.open().filter(dedup_key__in=[key for key, _ in firsts])}
            found |= {key: (incident, False) for key, incident in taken.items()}
            firsts = [(key, alert) for key, alert in firsts if key not in taken]
            if not firsts:
                return found
    # Still refused (a race each time, or another constraint): key by key, as one delivery of one alert does.
    return found | {key: _open_incident_for(router, key, alert=alert) for key, alert in firsts}


def _alert_row(alert, *, status, incident, key, now):
    return Alert(incident=incident, fingerprint=alert.fingerprint, starts_at=alert.starts_at,
                 ends_at=alert.ends_at or (now if status == Alert.State.RESOLVED else None), name=alert.name[:200],
                 status=status, labels=alert.labels, annotations=alert.annotations, generator_url=alert.generator_url,
                 dedup_key=key, first_received_at=now, last_received_at=now, last_payload_id=alert.payload_id)


def _insert_new(rows, now):
    """Insert alert rows, skipping any another delivery inserted first; returns
    the identities we inserted. A partition's applier is the only one inserting
    its alerts, so one COPY nearly always does; when another delivery got there
    first (the routing changed under it), the rows go in again skipping those,
    and ours are the ones carrying these payloads and this moment."""
    try:
        with transaction.atomic():
            copy_create(rows)
        return {(row.fingerprint, row.starts_at) for row in rows}
    except IntegrityError:
        for row in rows:
            row.pk = None
    Alert.objects.bulk_create(rows, ignore_conflicts=True)
    return set(Alert.objects.filter(last_payload__in={row.last_payload_id for row in rows},
                                    first_received_at=now).values_list("fingerprint", "starts_at"))


def _fire_all(router, alerts, keys, incidents, now, tally):
    """New firing alerts: open the incidents their keys lack, insert the alerts
    and one "alert fired" event each, in a fixed number of queries when they
    join incidents that are already open (`incidents`: dedup key -> open one)."""
    # Open in key order: two deliveries opening the same keys lock them in the same order.
    firsts = {}
    for key, alert in sorted(zip(keys, alerts), key=lambda pair: pair[0]):
        if key not in incidents and key not in firsts:
            firsts[key] = alert
    opened = set()
    for key, (incident, was_opened) in (_open_incidents_for(router, list(firsts.items())) if firsts else {}).items():
        incidents[key] = incident
        if was_opened:
            opened.add(key)
    # Rows in key order, so two deliveries inserting the same alerts wait on each other, never deadlock.
    rows = sorted((_alert_row(alert, status=Alert.State.FIRING, incident=incidents[key], key=key, now=now)
                   for alert, key in zip(alerts, keys)),
                  key=lambda row: (row.fingerprint, row.starts_at))
    inserted = _insert_new(rows, now)
    at = timezone.now()  # after any "opened" event, so the timeline reads in order
    events = []
    for alert, key in zip(alerts, keys):
        if (alert.fingerprint, alert.starts_at) not in inserted:  # the same alert, another request, same moment
            tally.add(alert, "repeated")
            continue
        events.append(TimelineEvent(
            incident=incidents[key], kind=Kind.ALERT_FIRED, message=_alert_title(alert), created_at=at,
            data={"fingerprint": alert.fingerprint, "starts_at": alert.starts_at.isoformat()}))
        tally.add(alert, "opened" if key in opened else "joined")
        opened.discard(key)
    copy_create(events)


def _resolve(router, row, alert, now, tally):
    row.status, row.ends_at = Alert.State.RESOLVED, alert.ends_at or now
    row.last_received_at, row.last_payload_id, row.received_count = now, alert.payload_id, row.received_count + 1
    row.save(update_fields=["status", "ends_at", "last_received_at", "last_payload", "received_count"])
    incident = row.incident
    tally.add(alert, "resolved")
    if incident is None:
        return
    add_event(incident, Kind.ALERT_RESOLVED, message=f"{row.name or row.fingerprint} resolved.",
              data={"fingerprint": row.fingerprint, "ends_at": row.ends_at.isoformat()})
    if router.routing.auto_resolve and incident.is_open and \
            not incident.alerts.filter(status=Alert.State.FIRING).exists():
        actions.do_change_status(incident, Status.RESOLVED, acting_user=None, via="alertmanager",
                                 message="Every alert resolved: resolved automatically.")
        tally.add(alert, "incidents_resolved")


def _remember_early_resolutions(alerts, now, tally):
    """Resolved before we saw them fire: keep them so the late firing notice is stale."""
    _insert_new([_alert_row(alert, status=Alert.State.RESOLVED, incident=None, key="", now=now)
                 for alert in alerts], now)
    for alert in alerts:
        tally.add(alert, "resolved_before_firing")


class Tally:
    """What became of each delivery's alerts, by delivery: the summary kept on
    each payload (several deliveries are applied together)."""
    COUNTS = ("opened", "joined", "repeated", "resolved", "resolved_before_firing", "stale", "incidents_resolved")

    def __init__(self):
        self.by_payload = {}

    def add(self, alert, what):
        self.of(alert.payload_id)[what] += 1

    def of(self, payload_id):
        return self.by_payload.setdefault(payload_id, dict.fromkeys(self.COUNTS, 0))


def apply_alertmanager(alerts, tally=None, router=None):
    """Apply parsed alerts (of one delivery or of several, in the order they
    came; an alert instance appears once) inside the caller's transaction;
    returns the Tally. `router`: one shared by the segments of a batch."""
    now = timezone.now()
    router = router or Router()
    tally = tally or Tally()
    known = {(row.fingerprint, row.starts_at): row for row in
             Alert.objects.filter(fingerprint__in={a.fingerprint for a in alerts}).select_related("incident")}
    repeats, new_firing, early_resolved, resolving = [], [], [], []
    seen = set()
    for alert in alerts:
        identity = (alert.fingerprint, alert.starts_at)
        row = known.get(identity)
        if identity in seen and row is None:
            tally.add(alert, "repeated")
            continue
        seen.add(identity)
        if row is None:
            (new_firing if alert.status == "firing" else early_resolved).append(alert)
        elif row.status == alert.status:
            repeats.append((row.pk, alert.payload_id))
            tally.add(alert, "repeated")
        elif alert.status == "resolved":
            resolving.append((row, alert))
            row.status = alert.status  # a second copy in this batch is a repeat
        else:  # firing after resolved, same instance: a late retry of an old notice
            tally.add(alert, "stale")
    keys = [router.dedup_key(alert) for alert in new_firing]
    incidents = {i.dedup_key: i for i in Incident.objects.open().filter(dedup_key__in=set(keys))} if keys else {}
    # Resolving changes incidents that exist: the chain's lock comes before the
    # rows that locks (audit.atomic). Opening only creates rows: its entries join
    # the chain at the end (chained_at_end), so appliers of two partitions open
    # incidents side by side. Repeats alone need neither.
    with audit.atomic() if resolving else nullcontext():
        if resolving and (missing := set(keys) - set(incidents)):
            # Whoever held the chain before us may have opened some of these keys
            # (its alerts overlap ours): look again now that it committed, so we join them.
            incidents |= {i.dedup_key: i for i in Incident.objects.open().filter(dedup_key__in=missing)}
        for row, alert in resolving:
            _resolve(router, row, alert, now, tally)
        if new_firing:
            with audit.chained_at_end():
                _fire_all(router, new_firing, keys, incidents, now, tally)
    if early_resolved:
        _remember_early_resolutions(early_resolved, now, tally)
    by_payload = {}
    for pk, payload_id in repeats:
        by_payload.setdefault(payload_id, []).append(pk)
    for payload_id, pks in by_payload.items():  # one UPDATE per delivery (usually one in all)
        Alert.objects.filter(pk__in=pks).update(received_count=F("received_count") + 1, last_received_at=now,
                                                last_payload_id=payload_id)
    return tally


def apply_event(event, payload):
    router = Router()
    incident = Incident.objects.open().filter(dedup_key=event.dedup_key).first()
    if event.action == "trigger":
        if incident is not None:
            return {"result": "already open", "incident": incident.reference}
        # The delivery's source ("events", or "pagerduty" for the Events API v2 intake) names the incident's.
        incident, _ = _open_incident_for(router, event.dedup_key, event=event, source=payload.source)
        return {"result": "opened", "incident": incident.reference}
    if incident is None:
        return {"result": "no open incident for this dedup_key"}
    target = Status.ACKNOWLEDGED if event.action == "acknowledge" else Status.RESOLVED
    sender = f"API token “{payload.token.name}”" if payload.token_id else "the events API"
    try:
        actions.do_change_status(incident, target, acting_user=None, via="api",
                                 message=f"{target.label} by {sender}.")
    except TransitionNotAllowed as exc:
        return {"result": exc.message, "incident": incident.reference}
    return {"result": target, "incident": incident.reference}


# --- one delivery, end to end ---------------------------------------------

def stored_text(raw):
    """Bytes as storable text (PostgreSQL text cannot hold NUL)."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def refuse_too_large(source, head, length, *, token, remote_addr=None):
    """413, keeping the first part of the body for inspection. `length`: the declared size,
    None for a chunked body (read only until it passed the limit)."""
    error = (f"body of {length:,} bytes exceeds {MAX_BODY_BYTES:,}" if length is not None
             else f"chunked body exceeds {MAX_BODY_BYTES:,} bytes")
    WebhookPayload.objects.create(
        source=source, body=stored_text(head[:STORED_BODY_CHARS]),
        outcome=WebhookPayload.Outcome.TOO_LARGE, error=error,
        token=token, remote_addr=remote_addr)
    return 413, {"error": f"body too large: at most {MAX_BODY_BYTES:,} bytes"}


def receive_event(body, *, token, remote_addr=None):
    """Validate, apply and record one authenticated event (the generic events
    API: few and small, applied at once). Returns (http_status, response_dict).
    The raw body is kept in every case."""
    source = "events"

    def keep(outcome, error="", summary=None):
        return WebhookPayload.objects.create(
            source=source, body=stored_text(body), outcome=outcome, error=error,
            summary=summary or {}, token=token, remote_addr=remote_addr)

    if len(body) > MAX_BODY_BYTES:
        return refuse_too_large(source, body, len(body), token=token, remote_addr=remote_addr)
    try:
        event = parse_event(body)
    except PayloadError as exc:
        stored = keep(WebhookPayload.Outcome.INVALID, str(exc))
        return 400, {"error": str(exc), "payload": stored.pk}
    try:
        with transaction.atomic():
            payload = keep(WebhookPayload.Outcome.ACCEPTED)
            summary = apply_event(event, payload)
            payload.summary = summary
            payload.processed_at = payload.received_at
            payload.save(update_fields=["summary", "processed_at"])
    except Exception as exc:  # ours, not the sender's: 5xx so the sender retries
        logger.exception("%s delivery failed", source)
        try:
            keep(WebhookPayload.Outcome.ERROR, f"{type(exc).__name__}: {exc}")
        except Exception:  # the database itself is down: the retry will bring the body again
            pass
        return 503, {"error": "temporary failure; please retry"}
    return 200, {"status": "ok", "payload": payload.pk, **summary}
