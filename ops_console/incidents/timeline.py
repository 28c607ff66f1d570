"""add_event(): the one way to append to an incident's timeline. Call it
inside the transaction of the change it describes."""
from django.utils import timezone

from .models import TimelineEvent

Kind = TimelineEvent.Kind


def add_event(incident, kind, *, actor=None, message="", data=None, at=None):
    event = new_event(incident, kind, actor=actor, message=message, data=data, at=at)
    event.save()
    return event


def new_event(incident, kind, *, actor=None, message="", data=None, at=None):
    """The unsaved event add_event() would append, for a bulk_create of many."""
    if kind not in Kind.values:
        raise ValueError(f"unknown timeline event kind {kind!r}")
    actor = actor if getattr(actor, "pk", None) else None
    return TimelineEvent(incident=incident, kind=kind, actor=actor, actor_name=actor.get_username() if actor else "",
                         message=message, data=data or {}, created_at=at or timezone.now())


__all__ = ["add_event", "new_event", "Kind"]
