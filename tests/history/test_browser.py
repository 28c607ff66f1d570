"""In Chromium: the auditor filters the incident history, opens the incident page and downloads its CSV."""
import csv
import datetime as dt

import pytest

from . import builders

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_auditor_filters_opens_an_incident_and_downloads_its_csv(page_as, live_server):
    wanted = builders.incident("Database replica lag", "P1", ack_after=dt.timedelta(minutes=3),
                               events=[("note", "Promoted the standby", 8)])
    builders.incident("Checkout latency", "P2")
    page = page_as("auditor")
    page.goto(f"{live_server.url}/history/")
    page.get_by_label("Severity").select_option("P1")
    page.get_by_label("Text").fill("replica")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/history/?*q=replica*")
    rows = page.get_by_test_id("incident-history").locator("tbody tr")
    assert rows.count() == 1
    page.get_by_role("link", name=wanted.reference).click()
    page.wait_for_url(f"**/incidents/{wanted.reference}/")
    assert "Promoted the standby" in page.get_by_test_id("timeline").inner_text()
    with page.expect_download() as download_info:
        page.get_by_test_id("incident-csv").click()
    download = download_info.value
    assert download.suggested_filename == f"{wanted.reference}.csv"
    with open(download.path(), encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["kind"] for r in rows] == ["opened", "acknowledged", "note"]
    assert rows[2]["message"] == "Promoted the standby"


def test_auditor_sees_no_control_that_changes_anything_on_history_pages(page_as, live_server):
    inc = builders.incident("Read only", "P2")
    builders.run(incident=inc)
    page = page_as("auditor")
    for path in ("/audit/", "/history/", f"/incidents/{inc.reference}/", "/reports/",
                 f"/incidents/{inc.reference}/postmortem/", f"/runs/{inc.run_links.get().run_id}/"):
        page.goto(live_server.url + path)
        forms = page.locator("form[method=post], form[method=POST]")
        assert [forms.nth(i).get_attribute("action") for i in range(forms.count())] == ["/accounts/logout/"], path
