"""In Chromium: start a run, watch a shell step's output stream in while it is
still running, and approve the gate as a second user (a commander)."""
import pytest

from .builders import make_doc, make_version, shell, step

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STREAMING = "for i in 1 2 3; do echo line$i; sleep 1; done"


def test_start_watch_output_stream_and_approve_as_a_second_user(page_as, celery_worker, live_server):
    make_version(make_doc(shell(STREAMING, title="Count slowly"), step("approval", "Roll back?", title="Go ahead?"),
                          shell("echo after-approval", title="Afterwards"), slug="demo-run"))
    responder = page_as("responder")
    responder.goto(f"{live_server.url}/runbooks/demo-run/")
    responder.get_by_role("link", name="Start a run").click()
    responder.get_by_role("button", name="Start the run").click()
    responder.wait_for_url(f"{live_server.url}/runs/*/")
    run_url = responder.url
    # The output is on the page while the step is still running (status and text read at one moment).
    responder.wait_for_function(
        """() => { const s = document.querySelector('[data-testid=step-1]');
                   const out = s && s.querySelector('[data-testid=step-output]');
                   return s && s.dataset.status === 'running' && out && out.textContent.includes('line1'); }""",
        timeout=15_000)
    responder.locator("[data-testid=step-2][data-status=waiting]").wait_for(timeout=15_000)
    step2 = responder.get_by_test_id("step-2")
    assert step2.get_by_role("button", name="Skip").count() == 0
    assert step2.get_by_role("button", name="Approve").count() == 0  # a responder cannot approve a gate

    commander = page_as("commander")
    commander.goto(run_url)
    commander.get_by_test_id("step-2").get_by_role("button", name="Approve").click(timeout=15_000)
    commander.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=15_000)
    assert "after-approval" in commander.get_by_test_id("step-3").inner_text()
    assert f"Approved by {commander.user.username}" in commander.get_by_test_id("step-2").inner_text()
    # The responder's page caught up by polling, and stopped polling.
    responder.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=15_000)
    assert "line3" in responder.get_by_test_id("step-1").inner_text()
