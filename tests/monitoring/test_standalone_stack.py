"""The standalone hook starts Prometheus (scraping the console) and
Alertmanager on the rendered config, with a token generated once."""
import argparse
import json
import urllib.request

import pytest

from devstack import services
from devstack.standalone import STACK_HOOKS, monitoring_stack
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def test_hook_is_registered():
    assert monitoring_stack in STACK_HOOKS


def test_hook_starts_prometheus_and_alertmanager_with_a_kept_token(tmp_path):
    args = argparse.Namespace(port=services.free_port(), prometheus_port=services.free_port(),
                              alertmanager_port=services.free_port())
    env = {"OPS_CONSOLE_BASE_URL": f"http://127.0.0.1:{args.port}"}
    processes = monitoring_stack(args, tmp_path, env)
    try:
        token = env["OPS_CONSOLE_ALERTMANAGER_TOKEN"]
        assert len(token) > 30 and (tmp_path / "alertmanager_token").read_text() == token
        def scrape_urls():
            with urllib.request.urlopen(f"http://127.0.0.1:{args.prometheus_port}/api/v1/targets", timeout=5) as r:
                return {t["scrapePool"]: t["scrapeUrl"] for t in json.load(r)["data"]["activeTargets"]}

        wait_until(lambda: "ops-console" in scrape_urls(), 15, message="the console's scrape target")
        assert scrape_urls()["ops-console"] == f"http://127.0.0.1:{args.port}/metrics"
        with urllib.request.urlopen(f"http://127.0.0.1:{args.prometheus_port}/api/v1/rules", timeout=5) as r:
            groups = {group["name"]: group for group in json.load(r)["data"]["groups"]}
            assert len(groups["slo_violations"]["rules"]) == 5
            assert "slo:backend:availability" in groups   # the generated burn-rate rules load too
        assert services.http_ok(f"http://127.0.0.1:{args.alertmanager_port}/-/ready")
    finally:
        for process in processes:
            process.stop()
    again = {"OPS_CONSOLE_BASE_URL": env["OPS_CONSOLE_BASE_URL"]}
    for process in monitoring_stack(args, tmp_path, again):
        process.stop()
    assert again["OPS_CONSOLE_ALERTMANAGER_TOKEN"] == token
