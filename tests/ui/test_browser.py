"""Sign in through Chromium as each role and see the navigation."""
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("role", ["responder", "commander", "auditor", "admin"])
def test_each_role_signs_in_and_sees_the_navigation(page_as, role):
    page = page_as(role)
    nav = page.get_by_role("navigation", name="Main")
    for label in ("Incidents", "Runbooks", "Services", "History"):
        assert nav.get_by_role("link", name=label).is_visible()
    # The audit log is the auditors' (and admins'); the others' history is under History.
    assert nav.get_by_role("link", name="Audit", exact=True).count() == (role in ("auditor", "admin"))
    assert page.get_by_test_id("current-role").inner_text() == role
    assert page.get_by_test_id("current-user").inner_text() == page.user.username


def test_auditor_sees_no_control_that_changes_anything(page_as, live_server):
    page = page_as("auditor")
    for path in ("/", "/accounts/users/", "/incidents/", "/runbooks/", "/services/", "/audit/", "/history/"):
        page.goto(live_server.url + path)
        forms = page.locator("form[method=post], form[method=POST]")
        actions = [forms.nth(i).get_attribute("action") for i in range(forms.count())]
        assert actions == ["/accounts/logout/"], (path, actions)
        assert page.locator("[hx-post], [hx-put], [hx-patch], [hx-delete]").count() == 0, path


def test_login_page_works_on_a_phone(new_context, live_server, make_user):
    user = make_user("responder")
    context = new_context()
    page = context.new_page()
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(live_server.url + "/accounts/login/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.fill("#id_username", user.username)
    page.fill("#id_password", f"pw-{user.username}-123")
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/")


def test_a_javascript_runbook_url_is_text_not_a_link(page_as, live_server, hostile_prometheus):
    page = page_as("responder")
    page.goto(live_server.url + "/services/")
    row = page.get_by_test_id("alert-row").filter(has_text="HostileJavascript")
    text = row.get_by_text("javascript:alert(document.cookie)")
    assert text.is_visible()
    assert text.evaluate("el => el.closest('a') === null")
    assert row.get_by_role("link").count() == 0
    assert page.locator("a[href^='javascript' i], a[href^='data' i], a[href^='vbscript' i]").count() == 0
    safe = page.get_by_test_id("alert-row").filter(has_text="SafeLink").get_by_role("link", name="runbook")
    assert safe.get_attribute("href") == "https://wiki.example/runbooks/disk"
