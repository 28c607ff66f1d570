"""The live output publisher against the test Redis: pieces in order with their
offsets, no hidden value split across two pieces, a burst coalesced and cut."""
import json
import time

import pytest

from ops_console.runbooks import live_output
from ops_console.runbooks.live_output import Publisher

pytestmark = pytest.mark.integration

_ids = iter(range(10_000_000, 20_000_000))


@pytest.fixture
def listen():
    """listen(run_id) -> a function returning the messages published on the run's channel so far."""
    subscriptions = []

    def start(run_id):
        pubsub = live_output.client().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(live_output.channel(run_id))
        subscriptions.append(pubsub)

        def received():
            # Until 0.2 s pass with nothing (the subscription's own reply also reads as nothing).
            messages, quiet_since = [], time.monotonic()
            while time.monotonic() - quiet_since < 0.2:
                message = pubsub.get_message(timeout=0.05)
                if message is not None:
                    messages.append(json.loads(message["data"]))
                    quiet_since = time.monotonic()
            return messages

        return received

    yield start
    for pubsub in subscriptions:
        pubsub.close()


def publisher(hidden=()):
    run_id, step_id = next(_ids), next(_ids)
    return Publisher(run_id, step_id, 1, lambda: hidden)


def test_pieces_carry_offsets_and_the_stored_text_is_their_sum(listen):
    live = publisher()
    received = listen(live.run_id)
    now = 100.0
    for n in range(3):
        live.feed(f"line {n} ü\n".encode())
        live.pump(now)
        now += 1
    live.close()
    messages = received()
    pieces = [m for m in messages if "text" in m]
    assert [m["text"] for m in pieces] == ["line 0 ü\n", "line 1 ü\n", "line 2 ü\n"]
    assert [(m["offset"], m["end"]) for m in pieces] == [(0, 10), (10, 20), (20, 30)]
    assert messages[-1] == {"step": live.step_run_id, "attempt": 1, "end": True}
    stored = live_output.snapshot([(live.step_run_id, 1)])[(live.step_run_id, 1)]
    assert stored == ("line 0 ü\nline 1 ü\nline 2 ü\n".encode(), False)


def test_a_character_split_across_reads_is_sent_whole(listen):
    live = publisher()
    received = listen(live.run_id)
    data = "ok ✓\n".encode()
    live.feed(data[:4])
    live.pump(1.0)
    live.feed(data[4:])
    live.pump(2.0)
    assert "".join(m["text"] for m in received() if "text" in m) == "ok ✓\n"


def test_a_hidden_value_split_across_reads_never_shows(listen):
    secret = "s3cr3t-token-value"
    live = publisher(hidden=[secret])
    received = listen(live.run_id)
    now = 1.0
    for part in (b"token: s3cr", b"3t-tok", b"en-value done\n", b"again s3cr3t-token-value\n"):
        live.feed(part)
        live.pump(now)
        now += 1
    live.close()
    pieces = [m["text"] for m in received() if "text" in m]
    text = "".join(pieces)
    assert text == "token: **** done\nagain ****\n"
    assert not any(fragment in piece for piece in pieces for fragment in ("s3cr", "3t-tok", "en-value"))


def test_a_burst_is_coalesced_into_bounded_messages(listen):
    live = publisher()
    received = listen(live.run_id)
    now = 1.0
    for n in range(200):   # 200 lines read within one publishing interval: one message
        live.feed(f"{n}\n".encode())
        live.pump(now)
    assert len([m for m in received() if "text" in m]) == 1
    live.pump(now + live_output.PUBLISH_EVERY)
    assert len([m for m in received() if "text" in m]) == 1
    line = b"x" * 99 + b"\n"
    for _ in range(400):   # 40 KB at once: whole lines, at most MESSAGE_BYTES a message
        live.feed(line)
    now += 1
    while live.due_in(now) is not None:
        live.pump(now)
        now += live_output.PUBLISH_EVERY
    pieces = [m for m in received() if "text" in m]
    assert len(pieces) >= 3 and all(m["end"] - m["offset"] <= live_output.MESSAGE_BYTES for m in pieces)
    assert all(m["text"].endswith("\n") for m in pieces)


def test_ten_megabytes_in_one_burst_cut_the_stream_and_cost_little(listen):
    live = publisher()
    received = listen(live.run_id)
    chunk = (b"y" * 1023 + b"\n") * 64
    started = time.perf_counter()
    for _ in range(160):   # 10 MB as the executor reads it, 64 KB at a time
        live.feed(chunk)
        live.pump()
    live.close()
    took = time.perf_counter() - started
    assert took < 0.5, took
    messages = received()
    assert messages[-1] == {"step": live.step_run_id, "attempt": 1, "cut": True}
    assert sum(len(m.get("text", "")) for m in messages) <= live_output.LIVE_BYTES
    text, cut = live_output.snapshot([(live.step_run_id, 1)])[(live.step_run_id, 1)]
    assert cut and len(text or b"") <= live_output.LIVE_BYTES


def test_a_quiet_running_step_keeps_its_text_from_expiring():
    live = publisher()
    live.feed(b"started\n")
    live.pump(1.0)
    key = live_output.text_key(live.step_run_id, 1)
    live_output.client().expire(key, 5)
    live.pump(1.0 + live_output.REFRESH_EXPIRY_EVERY)   # nothing printed for a minute
    assert live_output.client().ttl(key) > live_output.KEEP_SECONDS - 10


def test_redis_away_turns_it_off_without_failing_the_step(settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"   # nothing listens on the discard port
    live = publisher()
    live.feed(b"hello\n")
    live.pump(1.0)
    live.close()
    assert not live.on
    assert live_output.snapshot([(live.step_run_id, 1)]) == {}


@pytest.mark.django_db
def test_a_step_run_by_the_engine_streams_its_output_masked(make_user):
    from ops_console.runbooks.document import Parameter

    from .builders import drive, shell, start

    secret = "s3cr3t-value-that-must-not-show"
    token = Parameter("token", type="secret", pattern="^[a-z0-9-]+$")
    run = drive(start(shell("echo got=$PARAM_token; echo {{ token }} | rev", params=["token"]),
                      actor=make_user("responder"), parameters=[token], values={"token": secret}))
    step_run = run.steps.get()
    text, cut = live_output.snapshot([(step_run.pk, 1)])[(step_run.pk, 1)]
    assert (text, cut) == (f"got=****\n{secret[::-1]}\n".encode(), False)
    assert text.decode() == step_run.output   # the stream's text is the record's
