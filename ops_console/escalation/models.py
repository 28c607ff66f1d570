"""On-call roles and rotations, escalation policies, the per-incident
escalation schedule (one row per level with a due time), pages, their
deliveries and maintenance windows."""
import uuid
from datetime import time, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone as django_timezone

from .channels import masked

SEVERITIES = [("P0", "P0"), ("P1", "P1"), ("P2", "P2"), ("P3", "P3")]
WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"), (5, "Saturday"),
            (6, "Sunday")]


class ResponseRole(models.Model):
    """A role someone holds while on call (on-call SRE, incident commander...)."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class Rotation(models.Model):
    """Who holds a role when: members take turns a week each, handing over at a
    weekday and time in the rotation's zone; overrides win for their range."""

    role = models.OneToOneField(ResponseRole, on_delete=models.CASCADE, related_name="rotation")
    handover_weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS, default=0)
    handover_time = models.TimeField(default=time(9, 0))
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA zone of the hand-over time")
    starts_on = models.DateField(help_text="The first member's first shift begins at the first hand-over on or "
                                           "after this day")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.role} rotation"


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["rotation", "position"], name="rotation_member_position")]


class RotationOverride(models.Model):
    """Someone else holds the role from starts_at until ends_at (a swap, a holiday)."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="override_ends_after_start"),
        ]


class EscalationPolicy(models.Model):
    """The levels to page for one severity, by default or for one service."""

    severity = models.CharField(max_length=2, choices=SEVERITIES)
    service = models.ForeignKey("monitoring.Service", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="escalation_policies", help_text="Empty: the default for the severity")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Shown instead of levels when the severity pages nobody")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["severity", "service__name"]
        verbose_name_plural = "escalation policies"
        constraints = [
            models.UniqueConstraint(fields=["severity", "service"], name="one_policy_per_severity_and_service"),
            models.UniqueConstraint(fields=["severity"], condition=Q(service__isnull=True),
                                    name="one_default_policy_per_severity"),
        ]

    def __str__(self):
        return self.name


class EscalationLevel(models.Model):
    ACK, RESOLVE = "ack", "resolve"
    STOP_CHOICES = [(ACK, "acknowledgement"), (RESOLVE, "resolution")]

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField()
    delay_minutes = models.PositiveIntegerField(help_text="Minutes after the incident opens")
    role = models.ForeignKey(ResponseRole, on_delete=models.PROTECT, related_name="+")
    stop_on = models.CharField(max_length=8, choices=STOP_CHOICES, default=ACK)
    repeat_every_minutes = models.PositiveIntegerField(null=True, blank=True,
                                                       help_text="Page again every N minutes until the level stops "
                                                                 "(acknowledgement or resolution)")

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["policy", "position"], name="level_position")]


class Escalation(models.Model):
    """The policy in force, frozen onto the incident when it opened (and again
    when its severity changed: `generation` counts those restarts)."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="escalation")
    severity = models.CharField(max_length=2)
    snapshot = models.JSONField()
    generation = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)


class ScheduledLevel(models.Model):
    """One level of one incident's escalation with its due time: the engine's
    schedule. `round` counts repeats of a repeating level."""

    PENDING, FIRED, CANCELLED = "pending", "fired", "cancelled"
    STATUSES = [(PENDING, "pending"), (FIRED, "fired"), (CANCELLED, "cancelled")]

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="scheduled_levels")
    generation = models.PositiveIntegerField()
    level = models.PositiveSmallIntegerField()
    round = models.PositiveIntegerField(default=0)
    role_slug = models.CharField(max_length=50)
    role_name = models.CharField(max_length=100)
    stop_on = models.CharField(max_length=8, choices=EscalationLevel.STOP_CHOICES)
    repeat_every_minutes = models.PositiveIntegerField(null=True, blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    fired_at = models.DateTimeField(null=True, blank=True)
    fired_by = models.CharField(max_length=10, blank=True, help_text="engine, or audit when it was overdue")
    held_by = models.ForeignKey("MaintenanceWindow", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="held_levels")
    cancelled_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            # Each level fires once per incident: a second engine cannot make a second row.
            models.UniqueConstraint(fields=["incident", "generation", "level", "round"], name="one_row_per_level"),
        ]
        indexes = [models.Index(fields=["due_at"], condition=Q(status="pending"), name="escalation_due_pending")]

    def __str__(self):
        return f"level {self.level} ({self.role_name}) of incident {self.incident_id}"

    @property
    def lateness(self):
        return (self.fired_at - self.due_at).total_seconds() if self.fired_at else None


class Page(models.Model):
    """A person paged for one fired level (one page per scheduled level,
    enforced by the database), or for being made commander or responder, or
    reminded of an acknowledged incident still open (once per update interval)."""

    LEVEL, COMMANDER, RESPONDER, REMINDER = "level", "commander", "responder", "reminder"
    REASONS = [(LEVEL, "escalation level"), (COMMANDER, "made commander"), (RESPONDER, "added as responder"),
               (REMINDER, "acknowledged, still open")]

    step = models.OneToOneField(ScheduledLevel, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="page")
    reason = models.CharField(max_length=10, choices=REASONS, default=LEVEL)
    # Reminders: the n-th update interval since the acknowledgement; 0 otherwise.
    round = models.PositiveIntegerField(default=0)
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="pages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="pages")
    role_name = models.CharField(max_length=100)
    level = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField()
    link_expires_at = models.DateTimeField()
    link_used_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Every channel of the paged person failed: shown in red, and the next level was brought forward.
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("acknowledge_page", "Can acknowledge an incident from one's own page")]
        constraints = [
            # Made commander or responder: paged once; reminded: once per interval.
            models.UniqueConstraint(fields=["incident", "user", "reason", "round"], condition=~Q(reason="level"),
                                    name="one_page_per_person_reason_round"),
        ]

    def __str__(self):
        return f"page to {self.user or 'nobody'} ({self.role_name}) for incident {self.incident_id}"


class ContactMethod(models.Model):
    """Where a person's pages go: an Apprise URL (mailto://, json://, slack://,
    ntfy://, ...), sent `delay_minutes` after the page, in the person's order
    (PagerDuty's notification rules). Without a user: every page also goes
    there (a team chat channel). The URL may hold secrets: show masked_url."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="contact_methods")
    url = models.CharField(max_length=1000, verbose_name="Apprise URL",
                           help_text="e.g. mailto://smtp.example.com?to=me@example.com, "
                                     "jsons://hooks.example.com/page, slack://T000/B000/XXXX, ntfy://ntfy.sh/topic")
    label = models.CharField(max_length=100, blank=True, help_text="A name you recognise, e.g. “work phone”")
    position = models.PositiveSmallIntegerField(default=0)
    delay_minutes = models.PositiveIntegerField(default=0, help_text="Minutes after the page")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["user_id", "delay_minutes", "position", "id"]

    def __str__(self):
        return self.label or self.masked_url

    @property
    def masked_url(self):
        return masked(self.url)


class Delivery(models.Model):
    """One page on one contact method (an Apprise URL). A worker claims it
    (status sending, claimed_by, claimed_at) for a short lease; a claim older
    than the lease lost its worker and is tried again, with the same `key`.
    Each attempt leaves a DeliveryAttempt row."""

    PENDING, SENDING, DELIVERED, RETRY, FAILED = "pending", "sending", "delivered", "retry", "failed"
    STATUSES = [(s, s) for s in (PENDING, SENDING, DELIVERED, RETRY, FAILED)]

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="deliveries")
    method = models.ForeignKey(ContactMethod, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="deliveries", help_text="Empty: the person's account e-mail")
    # Sent with every attempt (Idempotency-Key and X-Ops-Console-Delivery headers): a receiver
    # tells a re-send after a lost worker from a new page.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=50, help_text="The Apprise service, e.g. E-Mail, JSON, Slack")
    address = models.CharField(max_length=1000, help_text="The Apprise URL (may hold secrets: show it masked)")
    personal = models.BooleanField(default=True, help_text="The paged person's own method, not a team channel")
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Claims so far; the current attempt's number")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # How often its task was sent again while it stayed pending: each time the next look waits
    # twice as long, so a backlog on the paging queue is not multiplied by copies of itself.
    requeued = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker sending it")
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_status_next")]

    @property
    def masked_address(self):
        return masked(self.address)


class DeliveryAttempt(models.Model):
    """One try of one delivery: when, how it ended, and the error."""

    SENT, FAILED, LOST = "sent", "failed", "lost"
    OUTCOMES = [(SENT, "sent"), (FAILED, "failed"), (LOST, "worker lost")]

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=OUTCOMES)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_row_per_attempt")]


class MaintenanceWindow(models.Model):
    service = models.ForeignKey("monitoring.Service", on_delete=models.CASCADE, related_name="maintenance_windows")
    starts_at = models.DateTimeField()
    # One-off: the window's end. Recurring: when the series ends (null: never).
    ends_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    ended_early_at = models.DateTimeField(null=True, blank=True)
    # Recurring (cron not blank): each occurrence of `cron`, read in `time_zone`,
    # from starts_at on, opens a window of `duration` (maintenance.py).
    cron = models.CharField(max_length=100, blank=True, help_text="Blank for a one-off window")
    duration = models.DurationField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin")
    # Not a column: the (start, end) of the occurrence maintenance.active_windows found a recurring window in.
    occurrence = None

    class Meta:
        ordering = ["-starts_at"]
        constraints = [models.CheckConstraint(
            condition=(Q(cron="", ends_at__isnull=False, ends_at__gt=F("starts_at"))
                       | (~Q(cron="") & Q(duration__gt=timedelta(0))
                          & (Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at"))))),
            name="window_ends_after_start")]

    def __str__(self):
        return f"{self.service} maintenance {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def recurring(self):
        return bool(self.cron)

    @property
    def effective_end(self):
        """Ending a window early keeps its planned end for the record. A recurring
        window ends with its current occurrence, when one was found, else with
        its series (None: never)."""
        end = self.occurrence[1] if self.occurrence else self.ends_at
        if self.ended_early_at and (end is None or self.ended_early_at < end):
            return self.ended_early_at
        return end

    @property
    def series_end(self):
        """When a recurring window stops repeating (ends_at, or when it was stopped); None: never."""
        ends = [t for t in (self.ends_at, self.ended_early_at) if t is not None]
        return min(ends) if ends else None

    @property
    def is_over(self):
        """Nothing of it is left: a one-off window ended, a series stopped or past its end."""
        end = self.series_end if self.cron else self.effective_end
        return end is not None and end <= django_timezone.now()

    def is_active(self, at):
        """One-off windows only; a recurring one asks maintenance.occurrence_at()."""
        return self.starts_at <= at < self.effective_end
