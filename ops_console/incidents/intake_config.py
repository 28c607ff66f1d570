"""Admin changes to alert intake: API tokens and the routing rules, each
audited in the same transaction."""
from django.core.exceptions import ValidationError
from django.utils import timezone

from ops_console.audit import log as audit
from ops_console.audit.log import record

from .models import AlertRouting, ApiToken


@audit.atomic
def do_create_token(name, *, acting_user, raw=None):
    """Returns (token, raw). The raw value is shown once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("A token needs a name.")
    raw = raw or ApiToken.generate()
    token = ApiToken(name=name[:100], created_by=acting_user if getattr(acting_user, "pk", None) else None)
    token.set_raw(raw)
    token.save()
    record("apitoken.created", obj=token, actor=acting_user, after={"name": token.name, "prefix": token.prefix})
    return token, raw


@audit.atomic
def do_revoke_token(token, *, acting_user):
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if not updated:
        raise ValidationError(f"The token “{token.name}” is already revoked.")
    token.refresh_from_db()
    record("apitoken.revoked", obj=token, actor=acting_user, after={"name": token.name, "prefix": token.prefix})
    return token


def routing_snapshot(routing):
    return {
        "severity_label": routing.severity_label, "default_severity": routing.default_severity.code,
        "dedup_labels": routing.dedup_labels, "auto_resolve": routing.auto_resolve,
        "mappings": {m.value: m.severity.code for m in routing.mappings.select_related("severity")},
    }


@audit.atomic
def do_update_routing(form, formset, *, acting_user):
    """Save a valid RoutingForm and its MappingFormSet."""
    before = routing_snapshot(AlertRouting.current())
    routing = form.save(commit=False)
    routing.updated_at = timezone.now()
    routing.save()
    formset.instance = routing
    formset.save()
    record("alertrouting.changed", obj=routing, actor=acting_user, before=before, after=routing_snapshot(routing))
    return routing
