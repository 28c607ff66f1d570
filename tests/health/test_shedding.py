"""Load shedding on /api/: beyond OPS_CONSOLE_API_MAX_INFLIGHT requests in
flight, 503 with Retry-After and a JSON reason; the requests already in flight
all land; pages are never shed."""
import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from ops_console.health.shedding import SHED, LoadSheddingMiddleware
from ops_console.incidents import alert_queue
from ops_console.incidents.intake_config import do_create_token
from ops_console.incidents.models import Alert
from tests.system.alertmanager import am_payload, get_status, in_background, post, storm_alert, table_locked
from tests.waiting import wait_until


def shed_total():
    """The shed counter, read from the counter itself: the default registry
    also holds the apps' collectors, which query the database."""
    (family,) = SHED.collect()
    return next(s.value for s in family.samples if s.name == "ops_console_api_shed_total")


def nested(path, depth):
    """A middleware whose view calls the middleware again `depth` times: that many requests in flight."""
    factory = RequestFactory()
    middleware = None

    def view(request):
        if view.depth:
            view.depth -= 1
            return middleware(factory.post(path))
        return HttpResponse("ok")

    view.depth = depth
    middleware = LoadSheddingMiddleware(view)
    return middleware(factory.post(path))


def test_the_request_beyond_the_limit_is_shed_with_503_and_retry_after(settings):
    settings.API_MAX_INFLIGHT = 2
    shed_before = shed_total()
    assert nested("/api/v1/events", 1).status_code == 200          # two in flight: fine
    response = nested("/api/v1/events", 2)                          # the third is shed
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert b"2 API requests already in flight" in response.content
    assert shed_total() == shed_before + 1


def test_pages_are_never_shed_and_zero_means_no_limit(settings):
    settings.API_MAX_INFLIGHT = 1
    assert nested("/incidents/", 3).status_code == 200
    settings.API_MAX_INFLIGHT = 0
    assert nested("/api/v1/events", 3).status_code == 200


def test_a_slot_is_given_back_when_the_view_raises(settings):
    settings.API_MAX_INFLIGHT = 1

    def broken(request):
        raise RuntimeError("boom")

    middleware = LoadSheddingMiddleware(broken)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            middleware(RequestFactory().post("/api/v1/events"))
    assert middleware.inflight == 0


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_on_a_live_server_held_requests_land_and_the_extra_one_is_shed(live_server, settings):
    settings.API_MAX_INFLIGHT = 2
    _, token = do_create_token("shedding test", acting_user=None)
    with table_locked("incidents_webhookpayload") as waiting:
        # Two deliveries wait on the lock inside the view: two requests in flight.
        held = in_background([lambda n=n: post(live_server.url, token, am_payload(storm_alert(n, "api")))
                                 for n in range(2)])
        wait_until(lambda: waiting() >= 2, 20, message="two deliveries waiting on the lock")
        status, headers, body = post(live_server.url, token, am_payload(storm_alert(2, "api")))
        assert status == 503 and headers["Retry-After"] == "5" and body["error"] == "overloaded"
        assert get_status(live_server.url + "/healthz") == 200
    # One applies both deliveries (200); the other may have found the intake lock taken (202, stored).
    assert {status for status, _, _ in held()} <= {200, 202}
    alert_queue.drain()  # what the worker does for a delivery left queued
    assert sorted(Alert.objects.values_list("fingerprint", flat=True)) == ["storm-0000", "storm-0001"]
