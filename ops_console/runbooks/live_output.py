"""A running shell step's output, pushed to the run page as it is read: the worker
appends each new piece to a Redis string per attempt and publishes it on the run's
channel in one MULTI; the stream view (stream_views.py) subscribes, catches up from
the string and relays what follows. Offsets are bytes of that string (UTF-8, masked),
so a page that reconnects asks for exactly what it lacks. The database stays the
record (flushed every FLUSH_SECONDS, head and tail kept); past LIVE_BYTES an attempt
is "cut" here and the page shows the database's text instead."""
import codecs
import json
import logging
import threading
import time

import redis
from django.conf import settings

log = logging.getLogger(__name__)

LIVE_BYTES = 64 * 1024        # streamed per attempt (the database keeps its own head and tail)
MESSAGE_BYTES = 16 * 1024     # at most this much in one message...
PUBLISH_EVERY = 0.05          # ...and one message per this many seconds: a burst is coalesced
KEEP_SECONDS = 15 * 60        # the live text outlives its step this long (pages opened just after)
REFRESH_EXPIRY_EVERY = 60     # a running step's keys get KEEP_SECONDS again this often
PREFIX = "ops-console:runbooks:live"

_clients = {}
_clients_lock = threading.Lock()


def client():
    """One connection pool per process and URL; short timeouts: a slow Redis must not hold a step."""
    url = settings.REDIS_URL
    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
        return _clients[url]


def text_key(step_run_id, attempt):
    return f"{PREFIX}:{step_run_id}:{attempt}"


def cut_key(step_run_id, attempt):
    return f"{text_key(step_run_id, attempt)}:cut"


def channel(run_id):
    return f"{PREFIX}:run:{run_id}"


def enabled():
    return getattr(settings, "RUNBOOK_LIVE_OUTPUT", True)


def _safe_stop(text, stop, values):
    """`stop` moved back so no whole hidden value in `text` crosses it."""
    moved = True
    while moved:
        moved = False
        for value in values:
            at = text.find(value, max(0, stop - len(value) + 1))
            if 0 <= at < stop < at + len(value):
                stop, moved = at, True
    return stop


def _held_back(text, values):
    """Where to stop publishing `text` so no hidden value is split across two messages:
    before a tail that could be the start of one (the rest of it is not read yet)."""
    stop = len(text)
    longest = max((len(v) for v in values), default=0)
    for start in range(max(0, len(text) - longest + 1), len(text)):
        tail = text[start:]
        if any(len(v) > len(tail) and v.startswith(tail) for v in values):
            stop = start
            break
    return _safe_stop(text, stop, values)


class Publisher:
    """Feeds one attempt's output to Redis: feed() takes bytes as read, pump() publishes
    what is due, close() publishes the rest. Never raises: a Redis failure turns it off
    for the attempt and the page falls back to the database's text."""

    def __init__(self, run_id, step_run_id, attempt, hidden=lambda: ()):
        self.run_id, self.step_run_id, self.attempt = run_id, step_run_id, attempt
        self.hidden = hidden
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = ""           # decoded, not masked, not yet published
        self.pending_bytes = 0      # raw bytes behind it (for the bound, before decoding)
        self.offset = 0             # bytes of the live text published so far
        self.next_at = 0.0
        self.expiry_at = 0.0
        self.on = enabled()
        self.cut = False

    def feed(self, data):
        if not self.on or self.cut or not data:
            return
        self.pending_bytes += len(data)
        if self.offset + self.pending_bytes > LIVE_BYTES + MESSAGE_BYTES:
            # More than the stream carries: stop decoding (10 MB in one burst costs nothing more).
            self._send_cut()
            return
        self.pending += self.decoder.decode(data)

    def due_in(self, now):
        """Seconds until pump() has something to publish (None: nothing pending)."""
        if not self.on or self.cut or not self.pending:
            return None
        return max(0.0, self.next_at - now)

    def pump(self, now=None, final=False):
        now = time.monotonic() if now is None else now
        if self.on and (self.offset or self.cut) and now >= self.expiry_at:
            self._keep(now)
        if not self.on or self.cut:
            return
        if final:
            self.pending += self.decoder.decode(b"", final=True)
        while self.pending and (final or now >= self.next_at):
            values = _hidden_values(self.hidden())
            stop = len(self.pending) if final else _held_back(self.pending, values)
            if stop * 4 > MESSAGE_BYTES:
                # A burst: this message takes whole lines up to the bound, the next one the rest.
                limit = MESSAGE_BYTES // 4
                stop = _safe_stop(self.pending, self.pending.rfind("\n", 0, limit) + 1 or limit, values)
            if not stop:
                break
            piece = self.pending[:stop]
            data = _mask(piece, values).encode()
            if self.offset + len(data) > LIVE_BYTES:
                self._send_cut()
                return
            self._send(data, now)
            self.pending = self.pending[stop:]
            self.pending_bytes = len(self.pending.encode())
            self.next_at = now + PUBLISH_EVERY
            if not final:
                break

    def close(self):
        self.pump(final=True)
        if self.on and not self.cut:
            self._run(lambda pipe: pipe.publish(channel(self.run_id), json.dumps(self._event(end=True))))

    def _event(self, **extra):
        return {"step": self.step_run_id, "attempt": self.attempt, **extra}

    def _send(self, data, now):
        offset = self.offset
        message = json.dumps(self._event(offset=offset, end=offset + len(data), text=data.decode()))
        key = text_key(self.step_run_id, self.attempt)

        def commands(pipe):
            pipe.append(key, data)
            if not offset:
                pipe.expire(key, KEEP_SECONDS)
            pipe.publish(channel(self.run_id), message)

        if self._run(commands):
            self.offset += len(data)
            if not offset:
                self.expiry_at = now + REFRESH_EXPIRY_EVERY

    def _keep(self, now):
        """A quiet step's text (or its cut mark) must not expire while it runs: offsets count from its start."""
        self.expiry_at = now + REFRESH_EXPIRY_EVERY

        def commands(pipe):
            pipe.expire(text_key(self.step_run_id, self.attempt), KEEP_SECONDS)
            pipe.expire(cut_key(self.step_run_id, self.attempt), KEEP_SECONDS)

        self._run(commands)

    def _send_cut(self):
        self.cut, self.pending, self.pending_bytes = True, "", 0
        self.expiry_at = time.monotonic() + REFRESH_EXPIRY_EVERY

        def commands(pipe):
            pipe.set(cut_key(self.step_run_id, self.attempt), "1", ex=KEEP_SECONDS)
            pipe.publish(channel(self.run_id), json.dumps(self._event(cut=True)))

        self._run(commands)

    def _run(self, commands):
        # One MULTI: a reader that subscribed and then read the string sees each piece
        # in one of the two, or both (and drops the repeat by its offset), never neither.
        try:
            pipe = client().pipeline(transaction=True)
            commands(pipe)
            pipe.execute()
            return True
        except redis.RedisError as exc:
            log.warning("step run %s: live output off for this attempt (%s)", self.step_run_id, exc)
            self.on = False
            return False


def _hidden_values(hidden):
    from .sandbox import mask_values

    return mask_values(hidden)


def _mask(text, values):
    from .sandbox import MASK

    for value in values:
        text = text.replace(value, MASK)
    return text


# --- reading ------------------------------------------------------------------

def snapshot(pairs):
    """{(step_run_id, attempt): (text bytes or None, cut)} for the attempts asked about."""
    pairs = list(pairs)
    if not pairs or not enabled():
        return {}
    keys = [k for pair in pairs for k in (text_key(*pair), cut_key(*pair))]
    try:
        values = client().mget(keys)
    except redis.RedisError as exc:
        log.warning("live output unavailable (%s): pages show the database's text", exc)
        return {}
    return {pair: (values[2 * i], values[2 * i + 1] is not None) for i, pair in enumerate(pairs)}


def for_page(step_views):
    """Give each running step's view `.live`: the live text and its offset, or the database's
    text with no offset (Redis away, or cut: the stream then says so, or fills it from 0)."""
    running = [view for view in step_views if view.run.status == "running"]
    stored = snapshot((view.run.pk, view.run.attempts) for view in running)
    for view in running:
        text, cut = stored.get((view.run.pk, view.run.attempts), (None, False))
        if text is not None and not cut:
            view.live = {"text": text.decode(errors="replace"), "offset": len(text), "cut": False}
        else:
            view.live = {"text": view.run.output, "offset": "", "cut": cut}
    return enabled()
