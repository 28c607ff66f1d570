"""opsctl against a live console (pytest-django's live server): the commands, and
`run` following a real run on a real Celery worker as its output is produced."""
import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from ops_console.accounts.tokens import do_create_api_token
from ops_console.incidents.models import Incident
from ops_console.runbooks.document import Parameter
from ops_console.runbooks.models import StepRun
from opsctl import cli
from tests.incidents.conftest import open_incident
from tests.runbooks.builders import make_doc, make_version, shell

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def opsctl_env(live_server, make_user):
    user = make_user("commander")
    _, raw = do_create_api_token(user, name="cli", scope="read-write", expires_at=timezone.now() + timedelta(days=1),
                                 acting_user=user)
    return {"OPSCTL_URL": live_server.url, "OPSCTL_TOKEN": raw}


def opsctl(env, *argv):
    out = io.StringIO()
    code = cli.main(list(argv), out=out, environ=env)
    return code, out.getvalue()


@pytest.mark.integration
def test_incident_commands(opsctl_env, transactional_db):
    incident = open_incident("Checkout is down", "P1")
    code, text = opsctl(opsctl_env, "incidents")
    assert code == 0 and incident.reference in text and "Checkout is down" in text
    assert opsctl(opsctl_env, "ack", incident.reference) == (0, f"{incident.reference} is acknowledged.\n")
    code, text = opsctl(opsctl_env, "show", incident.reference)
    assert code == 0 and "acknowledged" in text and "Timeline" in text
    assert opsctl(opsctl_env, "resolve", incident.reference)[0] == 0
    assert Incident.objects.get().status == "resolved"
    code, text = opsctl(opsctl_env, "oncall")
    assert code == 0


@pytest.mark.integration
def test_errors_are_the_apis_message(opsctl_env, transactional_db, capsys):
    assert opsctl({**opsctl_env, "OPSCTL_TOKEN": "ocp_wrong"}, "incidents")[0] == 3
    assert "401 unauthenticated" in capsys.readouterr().err
    assert opsctl(opsctl_env, "ack", "INC-999999")[0] == 3
    assert "404 not_found" in capsys.readouterr().err


@pytest.mark.integration
def test_run_follows_the_output_live_and_exits_with_the_result(opsctl_env, celery_worker):
    make_version(make_doc(
        shell("for i in 1 2 3 4 5 6; do echo line$i {{ who }}; sleep 0.5; done"), shell("echo broken; exit 3"),
        parameters=[Parameter(name="who", pattern="[a-z]+", required=True)], slug="cli-follow"))
    process = subprocess.Popen([sys.executable, "-m", "opsctl", "run", "cli-follow", "--param", "who=backend"],
                               cwd=REPO, env={**os.environ, **opsctl_env}, stdout=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("line1 backend"):
                # Printed while the step still runs: followed, not dumped at the end.
                assert StepRun.objects.get(run__runbook__slug="cli-follow", index=0).finished_at is None
        code = process.wait(timeout=60)
    finally:
        process.kill()
    text = "".join(lines)
    assert [f"line{i} backend" for i in range(1, 7)] == [l.strip() for l in lines if l.startswith("line")]
    assert "broken\n" in text and "failed" in lines[-1]
    assert code == 1
