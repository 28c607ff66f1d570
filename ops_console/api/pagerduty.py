"""PagerDuty Events API v2 at /api/v1/pagerduty/enqueue (and .../pagerduty/v2/enqueue,
for tools that append PagerDuty's own path to a base URL), so an integration written
for PagerDuty (Alertmanager's pagerduty_configs, Grafana, Zabbix...) works unchanged.
routing_key is an integration token (incidents.ApiToken); each event becomes the
generic events API's Event and goes through ingest.apply_event, so dedup and
ordering are those of the other intake paths. Answers as PagerDuty does."""
import json
import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from ninja import Router

from ops_console.incidents import ingest
from ops_console.incidents.models import ApiToken, WebhookPayload
from ops_console.ui.links import web_url

logger = logging.getLogger(__name__)
router = Router(tags=["PagerDuty Events API v2"], auth=None)
SEVERITIES = ("critical", "error", "warning", "info")
SUMMARY_MAX = 1024  # PagerDuty's own limit

REQUEST_SCHEMA = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["routing_key", "event_action"],
        "properties": {
            "routing_key": {"type": "string", "description": "an integration token (Incidents → API tokens)"},
            "event_action": {"type": "string", "enum": ["trigger", "acknowledge", "resolve"]},
            "dedup_key": {"type": "string", "maxLength": 255},
            "payload": {"type": "object", "required": ["summary", "source", "severity"], "properties": {
                "summary": {"type": "string", "maxLength": SUMMARY_MAX},
                "source": {"type": "string"},
                "severity": {"type": "string", "enum": list(SEVERITIES)},
                "timestamp": {"type": "string"}, "component": {"type": "string"},
                "group": {"type": "string"}, "class": {"type": "string"},
                "custom_details": {"type": "object"}}},
            "links": {"type": "array", "items": {"type": "object"}},
            "images": {"type": "array", "items": {"type": "object"}},
            "client": {"type": "string"}, "client_url": {"type": "string"},
        }}}},
}
RESPONSES = {202: {"description": '{"status": "success", "message": "Event processed", "dedup_key": "..."}'},
             400: {"description": '{"status": "invalid event", "message": "...", "errors": ["..."]}'}}


class InvalidEvent(ValueError):
    def __init__(self, errors, message="Event object is invalid"):
        super().__init__(message)
        self.errors, self.message = errors, message


def invalid(errors, message="Event object is invalid"):
    return JsonResponse({"status": "invalid event", "message": message, "errors": errors}, status=400)


def console_severity(pd_severity):
    """The console severity code for a PagerDuty severity (settings.PAGERDUTY_SEVERITIES);
    routing's mappings then pick the Severity, as for an alert's label."""
    return settings.PAGERDUTY_SEVERITIES.get(pd_severity, "")


def _text(value):
    return value.strip() if isinstance(value, str) else ""


def _links(data, errors):
    """links and images as (text, url), http(s) only; anything else is left out."""
    found = []
    for field, url_key, text_key in (("links", "href", "text"), ("images", "href", "alt")):
        items = data.get(field, [])
        if not isinstance(items, list):
            errors.append(f"'{field}' must be an array")
            continue
        for item in items:
            if not isinstance(item, dict):
                errors.append(f"each of '{field}' must be an object")
                continue
            url = web_url(item.get(url_key) or (item.get("src") if field == "images" else None))
            if url and not url.startswith("/"):
                found.append((_text(item.get(text_key)) or url, url))
    return found


def _summary_text(payload, links, client, client_url):
    """What the incident's summary says about the event (PagerDuty's fields, the
    custom details and the links), in Markdown."""
    lines = []
    for label, key in (("Source", "source"), ("Component", "component"), ("Group", "group"), ("Class", "class")):
        if _text(payload.get(key)):
            lines.append(f"- {label}: {_text(payload[key])}")
    details = payload.get("custom_details")
    if isinstance(details, dict) and details:
        lines.append("\nDetails:")
        lines += [f"- {k}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in details.items()]
    elif details not in (None, "", {}):
        lines.append(f"\nDetails: {details if isinstance(details, str) else json.dumps(details)}")
    if client_url:
        links = [(client or client_url, client_url), *links]
    if links:
        lines.append("\nLinks:")
        lines += [f"- [{text}]({url})" for text, url in links]
    return "\n".join(lines).strip()


def parse(data):
    """(token, ingest.Event) for a PagerDuty event; InvalidEvent with PagerDuty-style errors."""
    if not isinstance(data, dict):
        raise InvalidEvent(["Event object must be a JSON object"])
    errors = []
    routing_key = data.get("routing_key")
    if not isinstance(routing_key, str) or not routing_key.strip():
        raise InvalidEvent(["'routing_key' is missing or blank"])
    action = data.get("event_action")
    if action not in ingest.EVENT_ACTIONS:
        errors.append("'event_action' is missing or blank" if not action else
                      f"'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup_key = data.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, (str, int)):
        errors.append("'dedup_key' must be a string")
    dedup_key = str(dedup_key).strip() if dedup_key is not None else ""
    if len(dedup_key) > 255:
        errors.append("'dedup_key' is too long (at most 255 characters)")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append(f"'dedup_key' is required to {action}")
    payload = data.get("payload")
    links = _links(data, errors)
    title = severity = service = summary = ""
    if action == "trigger":
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            title = _text(payload.get("summary"))
            if not title:
                errors.append("'payload.summary' is missing or blank")
            elif len(title) > SUMMARY_MAX:
                errors.append(f"'payload.summary' is too long (at most {SUMMARY_MAX} characters)")
            if not _text(payload.get("source")):
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
            if payload.get("custom_details") is not None and not isinstance(payload["custom_details"], (dict, str)):
                errors.append("'payload.custom_details' must be an object")
            severity = console_severity(payload.get("severity"))
            service = _text(payload.get("component")) or _text(payload.get("source"))
            summary = _summary_text(payload, links, _text(data.get("client")),
                                    web_url(_text(data.get("client_url"))) or "")
    if errors:
        raise InvalidEvent(errors)
    token = ApiToken.objects.authenticate(routing_key.strip())
    if token is None:
        raise InvalidEvent(["'routing_key' is not a valid integration token (or it was revoked)"],
                           "Invalid routing key")
    # PagerDuty makes up a key for a trigger without one and answers with it.
    dedup_key = dedup_key or uuid.uuid4().hex
    return token, ingest.Event(action=action, dedup_key=dedup_key, title=title[:300],
                               severity=severity, service=service, summary=summary), dedup_key


def _enqueue(request):
    body = request.body
    remote_addr = request.META.get("REMOTE_ADDR")
    if len(body) > ingest.MAX_BODY_BYTES:
        return invalid([f"Event object is larger than {ingest.MAX_BODY_BYTES} bytes"], "Event object is too large")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return invalid(["Event object is not valid JSON"])
    try:
        token, event, dedup_key = parse(data)
    except InvalidEvent as exc:
        return invalid(exc.errors, exc.message)
    try:
        with transaction.atomic():
            payload = WebhookPayload.objects.create(
                source="pagerduty", body=ingest.stored_text(body), outcome=WebhookPayload.Outcome.ACCEPTED,
                token=token, remote_addr=remote_addr)
            payload.summary = ingest.apply_event(event, payload)
            payload.processed_at = payload.received_at
            payload.save(update_fields=["summary", "processed_at"])
    except Exception:  # ours, not the sender's: a 5xx so the sender retries, as PagerDuty's own 5xx
        logger.exception("pagerduty delivery failed")
        return JsonResponse({"status": "error", "message": "temporary failure; please retry"}, status=503)
    return JsonResponse({"status": "success", "message": "Event processed", "dedup_key": dedup_key}, status=202)


@router.post("/pagerduty/enqueue", summary="PagerDuty Events API v2: trigger, acknowledge, resolve",
             openapi_extra={"requestBody": REQUEST_SCHEMA, "responses": RESPONSES}, response={202: dict, 400: dict})
def enqueue(request):
    return _enqueue(request)


@router.post("/pagerduty/v2/enqueue", summary="The same, at PagerDuty's own path under /api/v1/pagerduty",
             openapi_extra={"requestBody": REQUEST_SCHEMA, "responses": RESPONSES}, response={202: dict, 400: dict})
def enqueue_v2(request):
    return _enqueue(request)
