"""Notification channels: a small base class and a registry of kinds. A
channel sends one message to one address or raises DeliveryError saying
whether trying again could help. Every attempt of one delivery carries the
same delivery id (webhooks: Idempotency-Key; e-mail: Message-ID), so a
receiver can drop the re-send that follows a worker lost mid-send."""
import json
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage

TIMEOUT = 5  # seconds: a slow chat webhook fails fast and is retried later


class DeliveryError(Exception):
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


REGISTRY = {}


def register(cls):
    REGISTRY[cls.kind] = cls()
    return cls


def channel(kind):
    try:
        return REGISTRY[kind]
    except KeyError:
        raise DeliveryError(f"unknown channel {kind!r}", permanent=True) from None


class Channel:
    kind = ""
    label = ""

    def send(self, address, message):
        raise NotImplementedError


def message_id_domain():
    """The console's own host name (the same on every worker), for Message-IDs."""
    return urllib.parse.urlsplit(settings.BASE_URL).hostname or "ops-console.invalid"


@register
class EmailChannel(Channel):
    kind, label = "email", "E-mail"

    def send(self, address, message):
        headers = {"X-Ops-Console-Attempt": str(message.attempt)}
        if message.delivery_id:
            # Stable across attempts (make_msgid would differ each time): mail clients and
            # de-duplicating relays show a re-send as the message they already have.
            headers["Message-ID"] = f"<{message.delivery_id}@{message_id_domain()}>"
        try:
            EmailMessage(message.subject, message.text, None, [address], headers=headers).send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"mail server: {exc}") from exc


@register
class WebhookChannel(Channel):
    """Generic JSON: the whole message as data."""

    kind, label = "webhook", "Webhook (JSON)"

    def payload(self, message):
        return {"subject": message.subject, "text": message.text, **message.data,
                "delivery_id": message.delivery_id, "attempt": message.attempt}

    def send(self, address, message):
        if not address.startswith(("http://", "https://")):
            raise DeliveryError(f"not an http(s) URL: {address}", permanent=True)
        body = json.dumps(self.payload(message)).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "ops-console",
                   "X-Ops-Console-Attempt": str(message.attempt)}
        if message.delivery_id:
            headers["Idempotency-Key"] = message.delivery_id
        request = urllib.request.Request(address, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - scheme checked above
                response.read(1024)
        except urllib.error.HTTPError as exc:
            # 408 and 429 and 5xx are worth another try; other 4xx will not change.
            retry = exc.code in (408, 429) or exc.code >= 500
            raise DeliveryError(f"HTTP {exc.code} from {address}", permanent=not retry) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"{address}: {getattr(exc, 'reason', exc)}") from exc


@register
class SlackChannel(WebhookChannel):
    """Slack-compatible incoming webhook: {"text": ...}."""

    kind, label = "slack", "Slack-compatible chat"

    def payload(self, message):
        return {"text": message.text}
