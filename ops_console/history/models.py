"""Postmortems kept with incidents, each save a new version. The tables keep the
names they had when audit held these models (see migrations/0001_initial.py)."""
from django.conf import settings
from django.db import models

from ops_console.audit.models import AppendOnlyError


class Postmortem(models.Model):
    """The postmortem kept with an incident; its text lives in versions, one per save."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.PROTECT, related_name="postmortem")
    latest = models.ForeignKey("PostmortemVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        db_table = "audit_postmortem"
        permissions = [("edit_postmortem", "Can write and edit postmortems")]

    def __str__(self):
        return f"Postmortem of INC-{self.incident_id}"


class PostmortemVersion(models.Model):
    """One saved text of a postmortem; never changed, a new save is a new version."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    body = models.TextField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by_name = models.CharField(max_length=150, blank=True)
    note = models.CharField(max_length=300, blank=True, help_text="What this version changed")

    class Meta:
        db_table = "audit_postmortemversion"
        ordering = ["postmortem", "-number"]
        constraints = [models.UniqueConstraint(fields=["postmortem", "number"], name="postmortem_version_unique")]

    def __str__(self):
        return f"Postmortem of INC-{self.postmortem.incident_id} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("postmortem versions cannot be changed: save a new version")
        super().save(*args, **kwargs)
