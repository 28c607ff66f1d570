"""A real Prometheus whose alert rules carry hostile runbook_url annotations."""
import json
import urllib.request

import pytest
import yaml

from devstack import services
from ops_console.monitoring import prometheus as prom
from tests.waiting import wait_until

HOSTILE_URLS = {
    "HostileJavascript": "javascript:alert(document.cookie)",
    "HostileData": "data:text/html,<script>alert(1)</script>",
    "HostileVbscript": "vbscript:msgbox(1)",
    "HostileTab": "java\tscript:alert(1)",
}
SAFE_URL = "https://wiki.example/runbooks/disk"


@pytest.fixture(scope="session")
def hostile_prometheus_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile-prometheus")
    rules = [{"alert": name, "expr": "vector(1)", "labels": {"severity": "critical"},
              "annotations": {"summary": f"{name} summary", "runbook_url": url}}
             for name, url in {**HOSTILE_URLS, "SafeLink": SAFE_URL}.items()]
    (workdir / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "hostile", "rules": rules}]}))
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                                      "rule_files": [str(workdir / "rules.yml")]}))
    server = services.Prometheus(services.free_port(), config, workdir / "data").start()

    def all_firing():
        with urllib.request.urlopen(f"{server.url}/api/v1/alerts", timeout=2) as response:
            alerts = json.load(response)["data"]["alerts"]
        return len([a for a in alerts if a["state"] == "firing"]) == len(rules)

    wait_until(all_firing, 30, message="the hostile alerts firing")
    yield server
    server.stop()


@pytest.fixture
def hostile_prometheus(settings, hostile_prometheus_server):
    settings.PROMETHEUS_URL = hostile_prometheus_server.url
    prom.reset_breaker()
    yield hostile_prometheus_server
    prom.reset_breaker()
