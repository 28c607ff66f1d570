"""Incidents and what hangs off them: severities as data, the status state
machine (allowed transitions in one table), the append-only timeline, the
alerts that opened or joined an incident, the raw webhook payloads, API tokens
and the alert routing rules."""
import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models import Q
from django.utils import timezone


class Severity(models.Model):
    code = models.CharField(max_length=8, unique=True, help_text="P0, P1, ...")
    name = models.CharField(max_length=50)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="0 is the most severe")
    definition = models.TextField(blank=True)
    ack_target = models.DurationField(null=True, blank=True, help_text="Time to acknowledge")
    update_cadence = models.DurationField(null=True, blank=True, help_text="How often to post an update")
    resolution_target = models.DurationField(null=True, blank=True)
    pages = models.BooleanField(default=True, help_text="Pages someone; otherwise a ticket")

    class Meta:
        ordering = ["rank"]
        verbose_name_plural = "severities"

    def __str__(self):
        return f"{self.code} {self.name}"


class TransitionNotAllowed(ValidationError):
    """A status change the state machine refuses; the message says why."""


class Status(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# The state machine: from -> the statuses it may move to. Resolved may be
# reopened (the problem came back); closed is final.
TRANSITIONS = {
    Status.TRIGGERED: (Status.ACKNOWLEDGED, Status.MITIGATED, Status.RESOLVED),
    Status.ACKNOWLEDGED: (Status.MITIGATED, Status.RESOLVED),
    Status.MITIGATED: (Status.ACKNOWLEDGED, Status.RESOLVED),
    Status.RESOLVED: (Status.TRIGGERED, Status.CLOSED),
    Status.CLOSED: (),
}
OPEN_STATUSES = (Status.TRIGGERED, Status.ACKNOWLEDGED, Status.MITIGATED)
# The timestamp each status sets when an incident enters it.
STATUS_TIMESTAMPS = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.MITIGATED: "mitigated_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
}
REFERENCE_PREFIX = "INC-"


class IncidentQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def by_reference(self, reference):
        """INC-42 (or 42) -> the queryset of that incident (empty if malformed)."""
        text = str(reference).upper().removeprefix(REFERENCE_PREFIX)
        return self.filter(pk=int(text)) if text.isdigit() else self.none()


class Incident(models.Model):
    """An incident's readable number is its id: INC-<pk>, race-free by construction."""

    Status = Status

    title = models.CharField(max_length=300)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="incidents")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRIGGERED, db_index=True)
    services = models.ManyToManyField("monitoring.Service", blank=True, related_name="incidents")
    commander = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="commanded_incidents")
    responders = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="responded_incidents")
    summary = models.TextField(blank=True)
    impact = models.TextField(blank=True)
    runbook = models.ForeignKey("runbooks.Runbook", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="incidents")
    source = models.CharField(max_length=32, default="manual", help_text="manual, alertmanager, events")
    dedup_key = models.CharField(max_length=300, blank=True, default="", db_index=True,
                                 help_text="Alerts and events with this key join this incident while it is open")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    detected_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        permissions = [
            ("acknowledge_incident", "Can acknowledge an incident"),
            ("add_note", "Can add a note to an incident's timeline"),
            ("manage_incident", "Can open incidents and change status, severity and commander"),
            ("manage_apitoken", "Can create and revoke API tokens"),
            ("manage_routing", "Can edit alert routing"),
        ]
        constraints = [
            # At most one open incident per dedup key: concurrent webhook
            # deliveries of the same alert cannot open two incidents.
            models.UniqueConstraint(fields=["dedup_key"], condition=Q(status__in=OPEN_STATUSES) & ~Q(dedup_key=""),
                                    name="incident_one_open_per_dedup_key"),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"

    @property
    def reference(self):
        return f"{REFERENCE_PREFIX}{self.pk}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("incidents:detail", args=[self.reference])

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    def allowed_transitions(self):
        return TRANSITIONS[Status(self.status)]

    def can_transition(self, new_status):
        return new_status in self.allowed_transitions()

    def transition(self, new_status, now=None):
        """Move to new_status and stamp its time; returns the changed fields.
        Raises TransitionNotAllowed with a message a person can act on."""
        if new_status not in Status.values:
            raise TransitionNotAllowed(f"“{new_status}” is not a status.")
        if not self.can_transition(new_status):
            allowed = ", ".join(TRANSITIONS[Status(self.status)]) or "nothing (it is final)"
            raise TransitionNotAllowed(
                f"{self.reference} is {self.status}: it cannot become {new_status}. Allowed: {allowed}.")
        now = now or timezone.now()
        fields = ["status", "updated_at"]
        if new_status == Status.TRIGGERED:  # reopened: the old resolution no longer holds
            self.resolved_at = None
            fields.append("resolved_at")
        stamp = STATUS_TIMESTAMPS.get(new_status)
        if stamp and not (stamp == "acknowledged_at" and self.acknowledged_at):
            setattr(self, stamp, now)
            fields.append(stamp)
        self.status = new_status
        self.updated_at = now
        return fields

    @property
    def age(self):
        end = self.resolved_at if self.resolved_at and not self.is_open else timezone.now()
        return end - self.detected_at


class TimelineEvent(models.Model):
    """Append-only: saved once, never changed or deleted."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        ALERT_FIRED = "alert_fired", "Alert fired"
        ALERT_RESOLVED = "alert_resolved", "Alert resolved"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ESCALATED = "escalated", "Escalated"
        PAGED = "paged", "Paged"
        PAGE_DELIVERED = "page_delivered", "Page delivered"
        PAGE_FAILED = "page_failed", "Page failed"
        HELD_BACK = "held_back", "Held back by maintenance"
        NOTE = "note", "Note"
        STATUS_CHANGE = "status_change", "Status change"
        SEVERITY_CHANGE = "severity_change", "Severity change"
        COMMANDER_CHANGE = "commander_change", "Commander change"
        RUN_STARTED = "run_started", "Runbook run started"
        RUN_FINISHED = "run_finished", "Runbook run finished"

    # Indexed by (incident, created_at) below: every query is "this incident's timeline, in order".
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline", db_index=False)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    message = models.TextField(blank=True, help_text="Plain text; Markdown for notes")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["incident", "created_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} on INC-{self.incident_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError("Timeline events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Timeline events are append-only.")

    @property
    def html(self):
        """Notes are Markdown (sanitized); every other message is plain text."""
        from ops_console.ui.markdown import render

        return render(self.message)


class IncidentRun(models.Model):
    """A runbook run started for an incident (the run's context names it)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="run_links")
    run = models.OneToOneField("runbooks.Run", on_delete=models.CASCADE, related_name="incident_link")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"run {self.run_id} for INC-{self.incident_id}"


class Alert(models.Model):
    """One Alertmanager alert instance (fingerprint + start time). A resolved
    notice that arrives before its firing one is kept without an incident, so
    the late firing notice is recognised as stale."""

    class State(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=128)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=State.choices)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict)
    generator_url = models.TextField(blank=True)
    dedup_key = models.CharField(max_length=300, blank=True)
    received_count = models.PositiveIntegerField(default=1)
    first_received_at = models.DateTimeField(default=timezone.now)
    last_received_at = models.DateTimeField(default=timezone.now)
    last_payload = models.ForeignKey("WebhookPayload", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        ordering = ["-starts_at"]
        constraints = [models.UniqueConstraint(fields=["fingerprint", "starts_at"], name="alert_unique_instance")]

    def __str__(self):
        return f"{self.name or self.fingerprint} ({self.status})"


class WebhookPayload(models.Model):
    """Every authenticated body we were sent, as received, with what became of it."""

    class Outcome(models.TextChoices):
        QUEUED = "queued", "Queued (stored, not applied yet)"
        ACCEPTED = "accepted", "Accepted"
        INVALID = "invalid", "Invalid (400)"
        TOO_LARGE = "too_large", "Too large (413)"
        ERROR = "error", "Our error (5xx)"

    source = models.CharField(max_length=32)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    body = models.TextField(blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)  # indexed with the id (Meta)
    error = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    token = models.ForeignKey("ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    # A queued delivery is applied by whoever holds the intake lock (alert_queue.py);
    # one that keeps failing is set aside as an error after a few attempts.
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Appliers work in partitions of the dedup keys, each at its own pace: a bit per
    # partition that still has alerts of this delivery to apply, and the partitioning
    # ("appliers:dedup labels") the bits were computed with.
    pending = models.PositiveIntegerField(default=0)
    partitioning = models.CharField(max_length=520, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        # The queue is read in id order from any point (oldest first, or back from a new row),
        # and so is any other outcome. An index on the outcome alone let the planner, whose
        # statistics said nothing was queued, read every queued row and sort them for each
        # delivery stored: a request's cost grew with the queue in a storm.
        indexes = [models.Index(fields=["outcome", "id"], name="payload_outcome_id")]

    def __str__(self):
        return f"{self.source} payload #{self.pk} ({self.outcome})"


def hash_token(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def authenticate(self, raw):
        """The active token for a raw bearer value, or None. Every alert
        delivery asks: one plain query made into the model skips compiling a
        queryset (0.75 ms) and a raw queryset's column mapping (0.20 ms); 0.12 ms."""
        if not raw:
            return None
        names = [field.attname for field in self.model._meta.concrete_fields]
        with connections[self.db].cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(names)} FROM {self.model._meta.db_table} "
                           f"WHERE token_hash = %s AND revoked_at IS NULL LIMIT 1", [hash_token(raw)])
            row = cursor.fetchone()
        return None if row is None else self.model.from_db(self.db, names, row)


class ApiToken(models.Model):
    """Bearer tokens for alert sources. Only the SHA-256 is stored; the prefix
    lets a person recognise a token they hold."""

    PREFIX = "oc_"

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls):
        return cls.PREFIX + secrets.token_urlsafe(32)

    def set_raw(self, raw):
        self.token_hash = hash_token(raw)
        self.prefix = raw[:10]


class AlertRouting(models.Model):
    """The one routing configuration (pk=1): how alerts become incidents."""

    severity_label = models.CharField(max_length=100, default="severity",
                                      help_text="The alert label whose value picks the severity")
    default_severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="+",
                                         help_text="For alerts whose label value has no mapping")
    dedup_labels = models.CharField(
        max_length=500, blank=True,
        help_text="Comma-separated labels whose values form the dedup key (e.g. alertname,service); "
                  "empty: each alert's fingerprint")
    auto_resolve = models.BooleanField(default=True,
                                       help_text="Resolve the incident when its last firing alert resolves")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return "Alert routing"

    @classmethod
    def current(cls):
        return cls.objects.select_related("default_severity").get(pk=1)

    def dedup_label_list(self):
        return [name.strip() for name in self.dedup_labels.split(",") if name.strip()]


class SeverityMapping(models.Model):
    """severity label value -> Severity, e.g. critical -> P1."""

    routing = models.ForeignKey(AlertRouting, on_delete=models.CASCADE, related_name="mappings")
    value = models.CharField(max_length=100)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["value"]
        constraints = [models.UniqueConstraint(fields=["routing", "value"], name="severity_mapping_unique_value")]

    def __str__(self):
        return f"{self.value} -> {self.severity.code}"
