"""Walk the URL conf so every URL, including ones added later, is covered:
- the auditor gets 403 (or 405) from every POST and changes nothing, and no GET changes anything;
- every POST that changes something (as admin) writes an audit entry."""
import itertools
import re

import pytest
from django.apps import apps
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve

from ops_console.audit.models import AuditEntry, ChainHead

from tests.history import builders

PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>[^>]+)>[^)]*\)")
MAX_COMBINATIONS = 12
# Rows that change on a sign-in or a page view by design, not by an action.
IGNORED_MODELS = {"sessions.session"}
IGNORED_TABLES = {"django_session"}
# Signing out would end the admin's walk (signing in and out is audited: test_log.py).
NOT_WALKED_AS_ADMIN = {"accounts/logout/"}
# A plausible value for the fields mutating forms usually have, so the admin's POSTs really change things.
FORM_DATA = {
    "role": "commander", "status": "acknowledged", "message": "Walked by the URL test", "note": "walked",
    "body": "# Walked\n\nby the URL test", "title": "Walked incident", "summary": "walked", "reason": "walked",
    "name": "walked", "confirm": "1", "comment": "walked", "text": "walked", "base": "0", "channel": "email",
    "address": "walk@example.test", "severity": "P2", "action": "approve",
}


def walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def console_routes(public=False):
    """Every route but Django's admin (it has its own checks); public views
    (they authenticate by token, not role) only when asked for."""
    for route, pattern in walk(get_resolver().url_patterns):
        if route.startswith("admin/") or (getattr(pattern.callback, "is_public", False) and not public):
            continue
        yield route, pattern


def declared_read_only(callback):
    """A view whose stated permissions are all view_* (or none beyond login) says it only reads."""
    perms = getattr(callback, "required_permissions", None)
    if perms is None:
        perms = getattr(getattr(callback, "view_class", None), "required_permissions", ())
    return all(perm.split(".", 1)[-1].startswith("view_") for perm in perms)


def world(make_user):
    """One object of each kind the console has, so URLs with ids point at real rows."""
    commander, responder = make_user("commander"), make_user("responder")
    svc = builders.service("walked-service")
    inc = builders.incident("Walked incident", services=[svc], commander=commander,
                            events=[("note", "a note", 1)])
    builders.incident("Open walked incident", "P2", ack_after=None)
    builders.run(incident=inc, started_by=responder, steps=[("waiting", None, None), ("pending", None, None)])
    builders.page(inc, responder)
    from ops_console.history.postmortems import do_save_postmortem

    do_save_postmortem(inc, "# Postmortem", acting_user=commander)
    return commander


def candidates():
    """Values for route parameters: every id, slug and reference that exists."""
    ints, strs = set(), set()
    for model in apps.get_models():
        if model._meta.label_lower in IGNORED_MODELS:
            continue
        pks = list(model.objects.values_list("pk", flat=True)[:20])
        ints.update(pk for pk in pks if isinstance(pk, int))
        for field in model._meta.fields:
            if field.get_internal_type() == "SlugField" or field.name in ("slug", "code", "token"):
                strs.update(str(v) for v in model.objects.values_list(field.name, flat=True)[:20] if v)
    from ops_console.incidents.models import Incident

    strs.update(i.reference for i in Incident.objects.all())
    numbers = sorted(ints)[:40] or [1]
    return {"int": [str(n) for n in numbers], "str": sorted(strs) or ["x"], "slug": sorted(strs) or ["x"],
            "path": sorted(strs) or ["x"], "uuid": ["00000000-0000-0000-0000-000000000000"]}


def urls_for(route, values, pattern=None):
    """Concrete paths for a route, filling each parameter with existing values
    (only those the URL conf resolves back to the pattern's view)."""
    params = [(m.group("conv") or "str", m.group("name")) for m in PARAM.finditer(route)]
    groups = [m.group("name") for m in REGEX_GROUP.finditer(route)]
    if groups:  # a re_path: treat its groups as str parameters
        route = REGEX_GROUP.sub(lambda m: f"<str:{m.group('name')}>", route).replace("^", "").replace("$", "")
        params = [("str", name) for name in groups]
    choices = [values.get(conv, values["str"]) for conv, _ in params]
    combos = itertools.islice(itertools.product(*choices), MAX_COMBINATIONS) if params else [()]
    for combo in combos:
        path = route
        for value in combo:
            path = PARAM.sub(value.replace("\\", ""), path, count=1)
        if pattern is None or _resolves_to("/" + path, pattern):
            yield "/" + path


def _resolves_to(path, pattern):
    try:
        return resolve(path).func is pattern.callback
    except Resolver404:
        return False


def snapshot():
    """Rows inserted, updated and deleted per table so far in this test's transaction
    (PostgreSQL counts them per transaction: one query however many tables)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables")
        return {name: counts for name, *counts in cursor.fetchall() if name not in IGNORED_TABLES}


def changed(before, after):
    return sorted(table for table, counts in after.items() if before.get(table, [0, 0, 0]) != counts)


# An auditor keeps personal API tokens (reading history from a script is part of the
# role); they are the auditor's own credentials, not the console's records. A token acts
# with its user's role, so an auditor's can change nothing either (tests/api/test_incidents.py).
OWN_CREDENTIALS = {"api_tokens", "revoke_api_token"}


@pytest.mark.django_db
def test_the_auditor_can_change_nothing(client_as, make_user):
    world(make_user)
    client = client_as("auditor")
    values = candidates()
    problems, posted = [], 0
    for route, pattern in console_routes():
        if pattern.name in OWN_CREDENTIALS:
            continue
        before = snapshot()
        # A view that needs more than view_* permissions must refuse the auditor; a read-only
        # view may answer a POST, but (like every GET) it must change nothing: checked below.
        allowed = None if declared_read_only(pattern.callback) else {403, 405}
        urls = list(urls_for(route, values, pattern))
        if not urls:
            problems.append(f"{route}: no existing object fills its parameters (add one to world())")
        for url in urls:
            response = client.post(url, FORM_DATA)
            posted += 1
            if allowed and response.status_code not in allowed:
                problems.append(f"POST {url} -> {response.status_code}")
        for url in urls[:2]:
            try:
                client.get(url)  # only to see that reading changes nothing; other tests check the pages
            except Exception:  # noqa: BLE001
                pass
        touched = changed(before, snapshot())
        if touched:
            problems.append(f"{route} changed {touched}")
    assert posted > 10
    assert problems == [], "\n".join(problems)


@pytest.mark.django_db
def test_every_change_writes_an_audit_entry(client_as, make_user):
    world(make_user)
    client = client_as("admin")
    values = candidates()
    problems, changes = [], 0
    for route, pattern in console_routes(public=True):
        if route in NOT_WALKED_AS_ADMIN:
            continue
        for url in urls_for(route, values, pattern):
            before, entries = snapshot(), AuditEntry.objects.count()
            response = client.post(url, FORM_DATA)
            touched = [table for table in changed(before, snapshot())
                       if table not in (AuditEntry._meta.db_table, ChainHead._meta.db_table)]
            if touched and response.status_code < 400:
                changes += 1
                if AuditEntry.objects.count() == entries:
                    problems.append(f"POST {url} -> {response.status_code} changed {touched} without an audit entry")
            elif touched:
                problems.append(f"POST {url} -> {response.status_code} failed but changed {touched}")
    assert changes >= 1, "the walk changed nothing: it proves nothing"
    assert problems == [], "\n".join(problems)


def test_url_filling_covers_every_converter():
    values = {"int": ["7"], "str": ["INC-1"], "slug": ["web"], "path": ["a"], "uuid": ["u"]}
    assert list(urls_for("incidents/<str:reference>/postmortem/v<int:number>/", values)) == [
        "/incidents/INC-1/postmortem/v7/"]
    assert list(urls_for("services/<slug:slug>/", values)) == ["/services/web/"]
    assert list(urls_for("audit/", values)) == ["/audit/"]


@pytest.mark.django_db
def test_the_change_detector_sees_a_write(entries):
    before = snapshot()
    assert changed(before, snapshot()) == []
    entries(1)
    assert AuditEntry._meta.db_table in changed(before, snapshot())
