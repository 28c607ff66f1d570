"""Notification channels are Apprise URLs (mailto://, json://, slack://, ntfy://
and a hundred more): Apprise sends, this module checks a URL, masks its
secrets for display and adds what every attempt of one delivery carries.

Every attempt of one delivery carries the same delivery id, as the
Idempotency-Key and X-Ops-Console-Delivery headers where the service takes
custom headers (e-mail, JSON/XML/form webhooks: Apprise's `+Header=value`), and
in JSON bodies as `delivery_id` (Apprise's `:key=value` payload fields), so a
receiver can drop the re-send that follows a worker lost mid-send. An e-mail's
Message-ID is Apprise's own and differs per attempt: the header is the stable id."""
import re
import urllib.parse
from dataclasses import dataclass, field

import apprise
from django.conf import settings

TIMEOUT = 5  # seconds to read an answer: a slow chat webhook fails fast and is retried later
CONNECT_TIMEOUT = 4
# Services that take custom headers in the URL (`+Name=value`); JSON also takes body fields.
HEADER_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos"}
JSON_SCHEMES = {"json", "jsons"}
# The JSON body's own fields: a `:title=...` field would rename Apprise's title instead of adding one.
JSON_BODY = {"version", "title", "message", "attachments", "type"}
# Generic webhooks: Apprise knows no secret in their path, so masked() hides token-like segments.
GENERIC_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms"}
# Apprise's defaults, which it writes into every URL it prints: noise on a page.
NOISE = {"overflow", "retry", "wait", "optional", "method", "cto", "rto", "verify", "format", "emojis", "tz"}
WORD = re.compile(r"[A-Za-z_-]{1,12}")


class DeliveryError(Exception):
    """A failed send; `permanent`: trying again cannot help (the URL is not one Apprise knows)."""

    def __init__(self, message, *, permanent=False):
        super().__init__(message)
        self.permanent = permanent


@dataclass
class Message:
    subject: str
    text: str
    data: dict = field(default_factory=dict)
    delivery_id: str = ""  # the same on every attempt of one delivery
    attempt: int = 1


def service(url):
    """The Apprise plugin for `url`, or None when it does not parse."""
    if not url or not url.strip():
        return None
    return apprise.Apprise.instantiate(url.strip())


def problem(url):
    """Why `url` cannot be used, in words; None when Apprise accepts it."""
    if service(url) is None:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme in ("http", "https"):
            secure = "s" if scheme == "https" else ""
            return f"“{scheme}://” is not an Apprise URL: a JSON webhook is json{secure}://{url.split('://', 1)[1]}"
        return "Apprise cannot read this URL (e.g. mailto://…, jsons://…, slack://…; see the Apprise wiki)."
    return None


def service_name(url):
    plugin = service(url)
    return str(plugin.service_name)[:50] if plugin else "invalid"


def masked(url):
    """The URL with its secrets hidden: Apprise's privacy form (passwords and
    the tokens it knows), token-like path segments of generic webhooks, and
    the values of custom headers and body fields; Apprise's defaults left out."""
    plugin = service(url)
    if plugin is None:
        parts = urllib.parse.urlsplit(url or "")
        return f"{parts.scheme or '?'}://{parts.hostname or '…'}/… (invalid)"
    parts = urllib.parse.urlsplit(plugin.url(privacy=True))
    path = parts.path
    if parts.scheme in GENERIC_SCHEMES:
        path = "/".join(segment if not segment or WORD.fullmatch(segment) else _hide(segment)
                        for segment in path.split("/"))
    query = [(key, "****" if key[:1] in "+-:" and value else value)
             for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if key not in NOISE]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, urllib.parse.urlencode(query, safe="@:/+*"),
                                    ""))


def _hide(secret):
    return f"{secret[0]}...{secret[-1]}" if len(secret) > 4 else "****"


def email_url(address):
    """The Apprise URL for an e-mail to `address` through the server in settings (EMAIL_*):
    used for a person without contact methods, and when old e-mail methods were migrated."""
    auth = ""
    if settings.EMAIL_HOST_USER:
        auth = urllib.parse.quote(settings.EMAIL_HOST_USER, safe="")
        if settings.EMAIL_HOST_PASSWORD:
            auth += ":" + urllib.parse.quote(settings.EMAIL_HOST_PASSWORD, safe="")
        auth += "@"
    query = {"smtp": settings.EMAIL_HOST, "to": address, "from": settings.DEFAULT_FROM_EMAIL,
             "mode": "starttls" if settings.EMAIL_USE_TLS else "insecure"}
    return f"mailto://{auth}{settings.EMAIL_HOST}:{settings.EMAIL_PORT}?{urllib.parse.urlencode(query, safe='@')}"


def with_delivery(url, message):
    """`url` plus what this attempt carries: the delivery id and attempt as
    headers, the page's data as JSON body fields (unless the URL maps the
    body itself, as a Slack-compatible `:message=text` does), and timeouts."""
    parts = urllib.parse.urlsplit(url.strip())
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    keys = {key for key, _ in query}
    extra = []
    if parts.scheme in HEADER_SCHEMES:
        extra += [("+Idempotency-Key", message.delivery_id), ("+X-Ops-Console-Delivery", message.delivery_id),
                  ("+X-Ops-Console-Attempt", str(message.attempt))]
    if parts.scheme in JSON_SCHEMES and not any(key.startswith(":") for key in keys):
        fields = {**message.data, "delivery_id": message.delivery_id, "attempt": message.attempt}
        extra += [(f":{key}", "" if value is None else str(value)) for key, value in fields.items()
                  if key not in JSON_BODY]
    extra += [(key, value) for key, value in (("cto", str(CONNECT_TIMEOUT)), ("rto", str(TIMEOUT)))
              if key not in keys]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query + extra)))


def send(url, message):
    """Send one message through Apprise; raises DeliveryError with Apprise's own words."""
    plugin = service(with_delivery(url, message))
    if plugin is None:
        raise DeliveryError(f"not an Apprise URL: {masked(url)}", permanent=True)
    # Apprise answers True or False and says why in its log: catch that log for this one send.
    with apprise.LogCapture(level=apprise.logging.WARNING, fmt="%(message)s") as log:
        sent = plugin.notify(body=message.text, title=message.subject, body_format=apprise.NotifyFormat.TEXT)
        said = log.getvalue().strip()
    if not sent:
        raise DeliveryError(f"{plugin.service_name}: {said or 'the service did not accept the message'}")
