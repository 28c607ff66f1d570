"""The one door to Prometheus. Wraps prometheus-api-client (installed without
its pandas extras) with timeouts, no retries and clear errors; alerts and rules,
which the client has no calls for, go through the same requests session. Answers
are kept a few seconds in the shared cache so fifty people watching one board
make one query, and a Prometheus that just failed is not asked again for a
moment, so a page with many tiles fails in milliseconds, not in many timeouts."""
import hashlib
import logging
import math
import os
import re
import threading
import time
from datetime import datetime, timezone
from typing import NamedTuple

import requests
from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

CACHE_SECONDS = 5     # how long an answer is shared between viewers
BREAKER_SECONDS = 2   # after an unreachable Prometheus, fail at once for this long
ERROR_SECONDS = 2     # callers waiting on the same query share its error this long


class PrometheusError(Exception):
    """The query was wrong or Prometheus refused it (permanent for this query)."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus could not be reached or timed out (worth a retry)."""


class Sample(NamedTuple):
    labels: dict
    value: float


class Series(NamedTuple):
    labels: dict
    points: list  # [(unix seconds, float | None)]; None where Prometheus had no number


# --- one client per Prometheus, one session per process -----------------------

def _refuse_answer(response, *args, **kwargs):
    """A response hook on the shared session. Prometheus says why it refused a
    query in the JSON body; the client's exception keeps only a repr of the
    bytes, so the reason is read here, while it is still a response."""
    if response.status_code == 200:
        return
    try:
        reason = response.json().get("error")
    except (ValueError, AttributeError):  # not Prometheus's JSON: a proxy's page
        reason = None
    reason = reason or response.text[:300] or response.reason
    if response.status_code in (502, 503, 504):
        raise PrometheusUnavailable(f"Prometheus is overloaded or restarting: {reason}")
    raise PrometheusError(f"Prometheus rejected the query: {reason}")


_clients = {}  # url -> (PrometheusConnect, the session it uses); every client shares one session
_shared_session = None
_clients_lock = threading.Lock()


def connection(url=None):
    """The process's PrometheusConnect for url (settings.PROMETHEUS_URL by
    default) and the requests session it was given."""
    global _shared_session
    url = url or settings.PROMETHEUS_URL
    with _clients_lock:
        if url not in _clients:
            if _shared_session is None:
                _shared_session = requests.Session()
                _shared_session.hooks["response"].append(_refuse_answer)
            _clients[url] = (PrometheusConnect(
                url=url, session=_shared_session, timeout=settings.PROMETHEUS_TIMEOUT,
                # No client-side retries: a down Prometheus must fail fast, not hang a page.
                retry=Retry(total=0, connect=0, read=0, status=0)), _shared_session)
        return _clients[url]


def forget_clients():
    """Drop the clients and their session: the next call builds them from the
    settings as they are now."""
    global _shared_session
    with _clients_lock:
        _clients.clear()
        _shared_session = None


def _on_setting_changed(setting, **kwargs):
    if setting in ("PROMETHEUS_URL", "PROMETHEUS_TIMEOUT"):
        forget_clients()


def _after_fork():
    # A forked worker (Celery's prefork pool) must not share its parent's pooled
    # sockets, nor wait on a lock some parent thread held at the fork.
    global _clients_lock, _shared_session
    _clients_lock = threading.Lock()
    _clients.clear()
    _shared_session = None


setting_changed.connect(_on_setting_changed, dispatch_uid="monitoring.prometheus.clients")
os.register_at_fork(after_in_child=_after_fork)


# --- failing fast -------------------------------------------------------------

_breaker = {}  # url -> (monotonic deadline, message)
_breaker_lock = threading.Lock()


def _unreachable(url, exc):
    # With retries off, urllib3 wraps a read timeout in MaxRetryError, which
    # requests reports as a ConnectionError carrying it.
    cause = exc.args[0] if exc.args else None
    timed_out = isinstance(exc, requests.Timeout) or isinstance(getattr(cause, "reason", None), Urllib3Timeout)
    kind = f"timed out after {settings.PROMETHEUS_TIMEOUT:g}s" if timed_out else "refused or dropped the connection"
    message = f"Prometheus is unreachable at {url} ({kind})"
    with _breaker_lock:
        _breaker[url] = (time.monotonic() + BREAKER_SECONDS, message)
    return PrometheusUnavailable(message)


def _check_breaker(url):
    with _breaker_lock:
        deadline, message = _breaker.get(url, (0, ""))
    if time.monotonic() < deadline:
        raise PrometheusUnavailable(message)


def reset_breaker():
    with _breaker_lock:
        _breaker.clear()


def _call(url, use):
    """use(client, session) with the process's client for url, its errors made ours."""
    _check_breaker(url)
    try:
        return use(*connection(url))
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _unreachable(url, exc) from exc
    except PrometheusApiClientException as exc:  # the hook above answers first; this is a fallback
        raise PrometheusError(f"Prometheus rejected the query: {exc}") from exc
    except ValueError as exc:  # a 200 that is not Prometheus's JSON (wrong URL, a proxy page)
        raise PrometheusError(f"{url} did not answer like Prometheus: {exc}") from exc


# --- the shared cache -----------------------------------------------------------

def _cached(parts, fetch):
    """fetch() through the shared cache, one fetch at a time per key: the first
    caller takes a short lock in the cache and queries; the others wait for its
    answer (or its error) instead of stampeding Prometheus. A broken cache
    (Redis down) only costs the sharing: the query still runs."""
    key = "prom:" + hashlib.sha1(repr(parts).encode()).hexdigest()
    try:
        hit = cache.get(key)
        if hit is not None:
            return hit
        leader = cache.add(f"{key}:lock", 1, int(settings.PROMETHEUS_TIMEOUT) + 2)
    except Exception as exc:  # noqa: BLE001 - any cache failure falls back to a direct query
        log.warning("cache unavailable, querying Prometheus directly: %s", exc)
        return fetch()
    if not leader:
        shared = _wait_for_leader(key)
        if shared is not None:
            return shared
    try:
        value = fetch()
        _share(key, value, CACHE_SECONDS)  # before the lock goes, so no second leader starts
        return value
    except PrometheusError as exc:
        _share(f"{key}:error", (type(exc).__name__, str(exc)), ERROR_SECONDS)
        raise
    finally:
        if leader:
            _forget(f"{key}:lock")


def _wait_for_leader(key):
    """The leader's answer, raising its error; None if it took too long."""
    deadline = time.monotonic() + settings.PROMETHEUS_TIMEOUT + 0.5
    while time.monotonic() < deadline:
        time.sleep(0.02)
        try:
            found = cache.get_many([key, f"{key}:error"])
        except Exception:  # noqa: BLE001
            return None
        if key in found:
            return found[key]
        if f"{key}:error" in found:
            kind, message = found[f"{key}:error"]
            raise (PrometheusUnavailable if kind == "PrometheusUnavailable" else PrometheusError)(message)
    return None


def _share(key, value, seconds):
    try:
        cache.set(key, value, seconds)
    except Exception as exc:  # noqa: BLE001
        log.warning("cache write failed: %s", exc)


def _forget(key):
    try:
        cache.delete(key)
    except Exception:  # noqa: BLE001
        pass


def _number(text):
    value = float(text)
    return value if math.isfinite(value) else None


def _timestamp(at):
    return at.timestamp() if isinstance(at, datetime) else float(at)


# --- queries --------------------------------------------------------------------

def query(expr, at=None, url=None):
    """Instant query -> [Sample(labels, value)]. Scalars come back as one sample
    with no labels; NaN stays float("nan") so callers can compare numbers."""
    url = url or settings.PROMETHEUS_URL
    params = {} if at is None else {"time": _timestamp(at)}
    # "Now" is shared by everyone asking within the same few seconds.
    slot = int(time.time() // CACHE_SECONDS) if at is None else params["time"]

    def fetch():
        result = _call(url, lambda client, _: client.custom_query(query=expr, params=params))
        if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
            return [Sample({}, float(result[1]))]  # scalar / string result
        return [Sample(item.get("metric", {}), float(item["value"][1])) for item in result]

    return _cached(("query", url, expr, slot), fetch)


def query_range(expr, start, end, step, url=None):
    """Range query with explicit start and end (datetimes) and step (seconds)
    -> [Series(labels, [(ts, value|None)])] as Prometheus returned them (no
    points where it had no data: see `align` for charts)."""
    url = url or settings.PROMETHEUS_URL
    step = float(step)
    if end <= start:
        raise PrometheusError("the range ends before it starts")
    if (end - start).total_seconds() / step > 11000:
        raise PrometheusError("too many points: use a larger step")

    def fetch():
        result = _call(url, lambda client, _: client.custom_query_range(
            query=expr, start_time=start, end_time=end, step=f"{step:g}"))
        return [Series(item.get("metric", {}), [(float(ts), _number(v)) for ts, v in item.get("values", [])])
                for item in result]

    return _cached(("range", url, expr, start.timestamp(), end.timestamp(), step), fetch)


def align(series, start, end, step):
    """One shared x axis from start to end and, per series, a value or None at
    each x: None is a gap the chart draws as a break."""
    # Prometheus evaluates a range query at start, start + step, ... <= end.
    first = round(start.timestamp())
    xs = [first + k * step for k in range(int((round(end.timestamp()) - first) // step) + 1)]
    columns = []
    for s in series:
        by_slot = {round((ts - first) / step): value for ts, value in s.points}
        columns.append([by_slot.get(k) for k in range(len(xs))])
    return xs, columns


def targets(url=None):
    """Active scrape targets -> [{"job", "instance", "health", "lastError", "lastScrape", "labels"}]."""
    url = url or settings.PROMETHEUS_URL

    def fetch():
        data = _call(url, lambda client, _: client.get_targets(state="active"))
        return [{"job": t.get("labels", {}).get("job", t.get("scrapePool", "")),
                 "instance": t.get("labels", {}).get("instance", t.get("scrapeUrl", "")),
                 "health": t.get("health", "unknown"), "last_error": t.get("lastError", ""),
                 "last_scrape": t.get("lastScrape", ""), "labels": t.get("labels", {})}
                for t in data.get("activeTargets", [])]

    return _cached(("targets", url), fetch)


def api_get(path, url=None):
    """GET an API path the client has no call for (alerts, rules), through the
    session the client uses (so the same timeouts, no retries, same errors)."""
    url = url or settings.PROMETHEUS_URL

    def fetch(client, session):
        response = session.get(f"{client.url}{path}", headers=client.headers, timeout=settings.PROMETHEUS_TIMEOUT)
        return response.json()["data"]

    return _call(url, fetch)


def alerts(url=None):
    """Alerts Prometheus holds now (pending and firing) -> [{"labels", "annotations", "state", "activeAt", "value"}]."""
    url = url or settings.PROMETHEUS_URL
    return _cached(("alerts", url), lambda: api_get("/api/v1/alerts", url)["alerts"])


def rules(url=None):
    url = url or settings.PROMETHEUS_URL
    return _cached(("rules", url), lambda: api_get("/api/v1/rules", url)["groups"])


def parse_time(text):
    """Prometheus's RFC 3339 times (with nanoseconds) -> aware datetime, or None."""
    if not text or text.startswith("0001-"):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text).astimezone(timezone.utc)
    except ValueError:
        return None
