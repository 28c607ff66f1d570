"""The API docs page in Chromium: Swagger UI renders every operation from local
files under the console's Content-Security-Policy, with no request leaving the console."""
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_page_renders_offline(new_context, live_server):
    page = new_context().new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/incidents" in [p.replace("\u200b", "") for p in paths]
    assert len(paths) >= 20
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in requests), requests
    assert not [e for e in errors if "Content Security Policy" in e], errors
