"""The one door to Prometheus. Wraps prometheus-api-client (installed without
its pandas extras) with timeouts and clear errors; alerts and rules, which the
client has no calls for, go through its requests session."""
from dataclasses import dataclass
from datetime import datetime

import requests
from django.conf import settings
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry


class PrometheusError(Exception):
    """The query was wrong or Prometheus refused it (permanent for this query)."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus could not be reached or timed out (worth a retry)."""


@dataclass
class Sample:
    labels: dict
    value: float


def connect(url=None):
    return PrometheusConnect(url=url or settings.PROMETHEUS_URL, disable_ssl=False,
                             # No client-side retries: a down Prometheus must fail fast, not hang a page.
                             retry=Retry(total=0),
                             timeout=settings.PROMETHEUS_TIMEOUT)


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise PrometheusUnavailable(f"Prometheus is unreachable at {settings.PROMETHEUS_URL}: "
                                    f"{type(exc).__name__}") from exc
    except PrometheusApiClientException as exc:
        raise PrometheusError(f"Prometheus rejected the query: {exc}") from exc


def query(expr, at=None, url=None):
    """Instant query -> [Sample]. Scalars come back as one sample with no labels."""
    params = {"time": (at or datetime.now()).timestamp()}
    result = _call(connect(url).custom_query, query=expr, params=params)
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return [Sample({}, float(result[1]))]  # scalar / string result
    return [Sample(item.get("metric", {}), float(item["value"][1])) for item in result]


def query_range(expr, start, end, step, url=None):
    """Range query with explicit start and end -> [(labels, [(ts, value|None)])]."""
    result = _call(connect(url).custom_query_range, query=expr, start_time=start, end_time=end, step=step)
    return [(item.get("metric", {}), [(float(ts), float(v)) for ts, v in item.get("values", [])]) for item in result]


def api_get(path, url=None):
    """GET an API path the client has no call for (alerts, rules, targets)."""
    client = connect(url)
    try:
        response = client._session.get(f"{client.url}{path}", timeout=settings.PROMETHEUS_TIMEOUT,
                                        headers=client.headers)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise PrometheusUnavailable(f"Prometheus is unreachable at {client.url}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise PrometheusError(f"Prometheus answered {response.status_code} for {path}")
    return response.json()["data"]
