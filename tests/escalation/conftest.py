"""Builders for escalation tests: severities, incidents opened through the
incidents app's action, and rotations with one person per role."""
import json
import threading
import time as clock
from datetime import date, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SEVERITY_RANKS = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Builders make many users; the real hasher costs a second of CPU per handful."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def severity(code):
    from ops_console.incidents.models import Severity

    return Severity.objects.get_or_create(code=code, defaults={"name": code, "rank": SEVERITY_RANKS[code],
                                                               "pages": code != "P3"})[0]


def service(slug="api"):
    from ops_console.monitoring.models import Service

    return Service.objects.get_or_create(slug=slug, defaults={"name": slug.upper()})[0]


def open_incident(code="P1", services=(), title="Error rate above SLO"):
    from ops_console.incidents.actions import do_open_incident

    return do_open_incident(title=title, severity=severity(code), services=list(services))


def staff_rotation(role_slug, *users, starts_on=date(2020, 1, 6), weekday=0, at=time(9, 0), zone="UTC"):
    """A weekly rotation of `users` for the role, handing over Mondays 09:00 UTC by default."""
    from ops_console.escalation.models import ResponseRole, Rotation, RotationMember

    role = ResponseRole.objects.get(slug=role_slug)
    rotation, _ = Rotation.objects.update_or_create(role=role, defaults={
        "handover_weekday": weekday, "handover_time": at, "timezone": zone, "starts_on": starts_on})
    rotation.members.all().delete()
    for n, user in enumerate(users):
        RotationMember.objects.create(rotation=rotation, user=user, position=n)
    return rotation


@pytest.fixture
def on_call(make_user):
    """One person per response role, named after it: on_call["oncall-sre"] is the on-call SRE."""
    from ops_console.escalation.matrix import ROLES, ensure_defaults

    ensure_defaults()
    people = {}
    for slug, _, _ in ROLES:
        people[slug] = make_user("responder", username=slug.replace("-", "_"))
        staff_rotation(slug, people[slug])
    return people


def pages_of(incident):
    """[(level, username)] of the incident's pages, in order."""
    from ops_console.escalation.models import Page

    return [(p.level, p.user.username if p.user else None)
            for p in Page.objects.filter(incident=incident).order_by("created_at", "pk").select_related("user")]


class Recorder:
    """A webhook receiver on 127.0.0.1: answers with the next of `statuses` (200 when none are left)."""

    def __init__(self, statuses=(), delay=0):
        self.requests, self.statuses, self.delay = [], list(statuses), delay
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                clock.sleep(recorder.delay)
                self.send_response(recorder.statuses.pop(0) if recorder.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(*statuses, delay=0):
        made.append(Recorder(statuses, delay))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def no_repeats(on_call):
    """The default matrix without its first level's re-pages, for tests of the engine's
    mechanics that count pages over hours."""
    from ops_console.escalation.models import EscalationLevel

    EscalationLevel.objects.update(repeat_every_minutes=None)
    return on_call



def json_url(http_url, *query):
    """The Apprise URL of a JSON webhook at an http:// URL."""
    return "json://" + http_url.removeprefix("http://") + ("?" + "&".join(query) if query else "")


def contact(user, url, delay=0, position=0, label=""):
    from ops_console.escalation.models import ContactMethod

    return ContactMethod.objects.create(user=user, url=url, delay_minutes=delay, position=position, label=label)
