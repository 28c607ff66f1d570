"""/runs/<id>/stream: server-sent events with a running step's output as the worker
reads it (live_output.py) and a "status" event when a step or the run changes.
gunicorn serves it from a sync thread, so each stream lives at most
RUNBOOK_STREAM_SECONDS (then the page reconnects, saying what it has) and at most
RUNBOOK_STREAMS_PER_PROCESS run at once in a process: the next page is answered
204 (an EventSource does not retry that) and polls, leaving threads for the board."""
import json
import threading
import time

import redis
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404

from ops_console.ui.access import require

from . import live_output
from .models import Run, StepRun

STATUS_EVERY = 0.5     # seconds between looks at the run's state (one small query)
PING_EVERY = 15        # a comment line, so a closed tab is noticed and its thread freed
MAX_HAVE = 100


class StreamGate:
    """A counting gate that never waits: a full gate means "poll instead"."""

    def __init__(self):
        self.lock = threading.Lock()
        self.open = 0

    def enter(self):
        with self.lock:
            if self.open >= settings.RUNBOOK_STREAMS_PER_PROCESS:
                return False
            self.open += 1
            return True

    def leave(self):
        with self.lock:
            self.open -= 1


gate = StreamGate()


def parse_have(text):
    """"12.1.150,13.2.0" -> {12: (1, 150), 13: (2, 0)}: step run, attempt, bytes the page has."""
    have = {}
    for item in (text or "").split(",")[:MAX_HAVE]:
        parts = item.split(".")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            step, attempt, offset = map(int, parts)
            have[step] = (attempt, offset)
    return have


def _event(name, data):
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def _state(run_id):
    """What a change of which should refresh the page: the run's and its steps' status and attempts."""
    run_status = Run.objects.filter(pk=run_id).values_list("status", flat=True).first()
    steps = list(StepRun.objects.filter(run_id=run_id).order_by("index").values_list("id", "status", "attempts"))
    return run_status, steps


class Relay:
    """One page's stream: catch up from Redis, then relay the run's channel, cutting
    each piece to what the page lacks (offsets), until the run ends or time is up."""

    def __init__(self, run_id, have, lifetime):
        self.run_id, self.sent, self.lifetime = run_id, dict(have), lifetime

    def events(self):
        pubsub = live_output.client().pubsub(ignore_subscribe_messages=True)
        try:
            # Subscribe first, then read what is stored: nothing published in between is lost.
            pubsub.subscribe(live_output.channel(self.run_id))
            state = _state(self.run_id)
            yield ": live output\n\n"
            running = [(sid, attempts) for sid, status, attempts in state[1] if status == StepRun.RUNNING]
            stored = live_output.snapshot(running)
            for (sid, attempt), (text, cut) in stored.items():
                yield from self._catch_up(sid, attempt, text or b"", cut)
            # The page was rendered before this state was read: it may have missed a change.
            yield _event("status", {"run": state[0]})
            started = now = time.monotonic()
            next_state, next_ping = now + STATUS_EVERY, now + PING_EVERY
            while now - started < self.lifetime:
                message = pubsub.get_message(timeout=min(STATUS_EVERY, max(0.0, next_state - now)))
                if message and message.get("type") == "message":
                    yield from self._relay(json.loads(message["data"]))
                now = time.monotonic()
                if now >= next_state:
                    next_state = now + STATUS_EVERY
                    current = _state(self.run_id)
                    if current != state:
                        state = current
                        yield _event("status", {"run": state[0]})
                        if state[0] in Run.FINISHED:
                            yield _event("end", {})
                            return
                if now >= next_ping:
                    next_ping = now + PING_EVERY
                    yield ": ping\n\n"
            yield _event("bye", {})
        except redis.RedisError:
            yield _event("unavailable", {})   # the page polls and tries again later
        finally:
            pubsub.close()

    def _catch_up(self, sid, attempt, text, cut):
        if cut:
            self.sent[sid] = (attempt, None)
            yield _event("cut", {"step": sid, "attempt": attempt})
            return
        have_attempt, offset = self.sent.get(sid, (None, None))
        start = offset if have_attempt == attempt and offset is not None and offset <= len(text) else 0
        if start < len(text) or have_attempt != attempt:
            yield _event("output", {"step": sid, "attempt": attempt, "offset": start, "end": len(text),
                                    "text": text[start:].decode(errors="replace")})
        self.sent[sid] = (attempt, len(text))

    def _relay(self, message):
        sid, attempt = message.get("step"), message.get("attempt")
        if message.get("cut"):
            self.sent[sid] = (attempt, None)
            yield _event("cut", {"step": sid, "attempt": attempt})
            return
        if "text" not in message:
            return
        have_attempt, offset = self.sent.get(sid, (None, None))
        if have_attempt == attempt and offset is None:
            return   # cut: the page shows the database's text
        if have_attempt != attempt:
            offset = 0
        if message["end"] <= offset:
            return   # read in the catch-up already
        if message["offset"] != offset:
            # Overlap (the catch-up read part of it) or a gap: the stored text says exactly.
            stored = live_output.snapshot([(sid, attempt)]).get((sid, attempt), (None, False))
            yield from self._catch_up(sid, attempt, stored[0] or b"", stored[1])
            return
        self.sent[sid] = (attempt, message["end"])
        yield _event("output", message)


class GatedEvents:
    """The relay's events; closing (the server does, even when nothing was sent) leaves the gate once."""

    def __init__(self, relay):
        self.events, self.left = relay.events(), False

    def __iter__(self):
        return self

    def __next__(self):
        return next(self.events)

    def close(self):
        try:
            self.events.close()
        finally:
            if not self.left:
                self.left = True
                gate.leave()


@require("runbooks.view_run")
def stream(request, pk):
    run = get_object_or_404(Run.objects.only("id", "status"), pk=pk)
    if run.finished or not live_output.enabled():
        return HttpResponse(status=204)
    if not gate.enter():
        response = HttpResponse(status=204)
        response["X-Stream-Refused"] = "full"
        return response
    relay = Relay(run.pk, parse_have(request.GET.get("have")), settings.RUNBOOK_STREAM_SECONDS)
    response = StreamingHttpResponse(GatedEvents(relay), content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"   # a proxy in front must not hold the pieces back
    return response
