"""The Prometheus client against a real Prometheus (the session `prometheus`
fixture scrapes itself every second)."""
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.test import override_settings
from prometheus_api_client import PrometheusConnect

from devstack import services
from ops_console.monitoring import prometheus as prom

pytestmark = pytest.mark.integration


def test_instant_query_returns_samples(live_prometheus):
    samples = prom.query('up{job="prometheus"}')
    assert len(samples) == 1
    assert samples[0].labels["job"] == "prometheus" and samples[0].value == 1.0


def test_scalar_query_is_one_sample_without_labels(live_prometheus):
    assert prom.query("1 + 1") == [prom.Sample({}, 2.0)]


def test_an_expectation_that_holds_and_one_that_fails(live_prometheus):
    assert prom.query('up{job="prometheus"} == 1')
    assert prom.query('up{job="prometheus"} == 0') == []


def test_range_query_with_explicit_start_and_end(live_prometheus):
    end = datetime.now(timezone.utc)
    start = end - timedelta(seconds=30)
    (series,) = prom.query_range('up{job="prometheus"}', start, end, 1)
    assert series.labels["job"] == "prometheus"
    assert all(start.timestamp() - 1 <= ts <= end.timestamp() + 1 for ts, _ in series.points)
    assert series.points[-1][1] == 1.0


def test_align_leaves_gaps_where_there_is_no_data(live_prometheus):
    end = datetime.fromtimestamp(int(time.time()) // 10 * 10, tz=timezone.utc)
    start = end - timedelta(seconds=40)
    # Data only in the first 10 s of every 20 s: the rest must come back as None, not be skipped.
    series = prom.query_range("vector(1) and on() (vector(time()) % 20 < 10)", start, end, 5)
    xs, (values,) = prom.align(series, start, end, 5)
    assert len(xs) == 9 and xs[0] == start.timestamp()
    expected = [1.0 if x % 20 < 10 else None for x in xs]
    assert values == expected


def test_bad_promql_is_a_clear_error(live_prometheus):
    with pytest.raises(prom.PrometheusError) as info:
        prom.query("rate(up[5m]")
    assert not isinstance(info.value, prom.PrometheusUnavailable)
    assert "Prometheus rejected the query" in str(info.value) and "parse error" in str(info.value)


def test_targets_alerts_and_rules(live_prometheus):
    (target,) = [t for t in prom.targets() if t["job"] == "prometheus"]
    assert target["health"] == "up" and target["instance"] == live_prometheus.url.removeprefix("http://")
    assert prom.alerts() == []
    assert prom.rules() == []


def test_fifty_viewers_make_one_query(live_prometheus, monkeypatch):
    calls = []
    real = PrometheusConnect.custom_query

    def counting(self, *args, **kwargs):
        calls.append(kwargs.get("query"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PrometheusConnect, "custom_query", counting)
    expr = f'up{{job="prometheus", viewer_test="{time.time_ns()}"}} or vector(1)'
    at = datetime.now(timezone.utc)
    results = [prom.query(expr, at=at) for _ in range(50)]
    assert calls == [expr]
    assert all(r == results[0] for r in results)


def test_fifty_viewers_at_the_same_moment_make_one_query(live_prometheus, monkeypatch):
    calls = []
    real = PrometheusConnect.custom_query_range

    def counting(self, *args, **kwargs):
        calls.append(kwargs.get("query"))
        time.sleep(0.2)  # a query that takes a moment, so the others arrive while it runs
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PrometheusConnect, "custom_query_range", counting)
    end = datetime.now(timezone.utc)
    results, barrier = [], threading.Barrier(50)

    def viewer():
        barrier.wait()
        results.append(prom.query_range('up{job="prometheus"}', end - timedelta(minutes=5), end, 5))

    threads = [threading.Thread(target=viewer) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 50 and all(r == results[0] for r in results)


def test_viewers_waiting_on_a_failing_query_share_its_error(dead_prometheus):
    errors, barrier = [], threading.Barrier(10)

    def viewer():
        barrier.wait()
        prom.reset_breaker()
        try:
            prom.query("up")
        except prom.PrometheusUnavailable as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=viewer) for _ in range(10)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 10 and all("Prometheus is unreachable" in e for e in errors)
    assert time.monotonic() - started < 1


def test_a_dead_cache_falls_back_to_a_direct_query(live_prometheus):
    dead_redis = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                              "LOCATION": f"redis://127.0.0.1:{services.free_port()}/0",
                              "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}
    with override_settings(CACHES=dead_redis):
        assert prom.query('up{job="prometheus"}')[0].value == 1.0


def test_prometheus_down_fails_fast_with_unavailable(dead_prometheus):
    started = time.monotonic()
    with pytest.raises(prom.PrometheusUnavailable) as info:
        prom.query("up")
    assert "Prometheus is unreachable" in str(info.value)
    # The breaker answers the next callers without trying again.
    with pytest.raises(prom.PrometheusUnavailable):
        prom.targets()
    assert time.monotonic() - started < 1


def test_a_hanging_prometheus_times_out(settings):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.PROMETHEUS_TIMEOUT = 0.3
    try:
        started = time.monotonic()
        with pytest.raises(prom.PrometheusUnavailable, match="timed out"):
            prom.query("up")
        assert time.monotonic() - started < 1
    finally:
        listener.close()
