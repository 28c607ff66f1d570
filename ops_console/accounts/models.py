"""Personal API tokens: a person's bearer token for the REST API. It acts with
its owner's role; a read token never changes anything. Hashed at rest the way
the integration tokens for alert intake are (incidents.models.hash_token)."""
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from ops_console.incidents.models import hash_token

MAX_LIFETIME = timedelta(days=365)


class Scope(models.TextChoices):
    READ = "read", "Read"
    READ_WRITE = "read-write", "Read and write"


class PersonalTokenQuerySet(models.QuerySet):
    def usable(self, now=None):
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now(),
                           user__is_active=True)

    def authenticate(self, raw):
        """The usable token for a raw bearer value, or None (unknown, revoked, expired)."""
        if not raw or not raw.startswith(PersonalToken.PREFIX):
            return None
        return self.usable().select_related("user").filter(token_hash=hash_token(raw)).first()


class PersonalToken(models.Model):
    # Distinct from the integration tokens' "oc_", so a pasted token says which kind it is.
    PREFIX = "ocp_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = PersonalTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("manage_own_tokens", "Can create and revoke their own API tokens")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls):
        return cls.PREFIX + secrets.token_urlsafe(32)

    def set_raw(self, raw):
        self.token_hash = hash_token(raw)
        self.prefix = raw[:12]

    @property
    def can_write(self):
        return self.scope == Scope.READ_WRITE

    @property
    def state(self):
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "active"
