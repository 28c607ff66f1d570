"""In Chromium on a phone: the calendar comes back in the browser's own zone,
fits 390 px, and a member takes a shift with one tap."""
from datetime import time, timedelta

import pytest
from django.utils import timezone

from ops_console.escalation.matrix import ensure_defaults
from ops_console.escalation.models import RotationOverride

from .conftest import staff_rotation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_takes_a_shift_on_a_phone_in_their_own_zone(page_as, live_server, make_user):
    ensure_defaults()
    ann = make_user("responder", username="ann")
    bob = make_user("responder", username="bob_with_a_rather_long_username_" + "b" * 60)
    monday = timezone.now().date() - timedelta(days=timezone.now().weekday())
    staff_rotation("oncall-sre", bob, ann, starts_on=monday, at=time(0, 0))  # Bob this week, Ann the next
    page = page_as("responder", user=ann)  # the browser context is in Europe/Berlin
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/oncall/oncall-sre/calendar/")
    page.wait_for_url("**tz=Europe%2FBerlin**")
    assert page.get_by_test_id("calendar-zone").inner_text() == "Europe/Berlin"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_test_id("take").first.click()
    page.get_by_text("You hold On-call SRE from").wait_for()
    override = RotationOverride.objects.get()
    assert override.user == ann and override.ends_at > timezone.now()
    page.get_by_role("link", name="Month").click()
    page.get_by_test_id("calendar-month").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
