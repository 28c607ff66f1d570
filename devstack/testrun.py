"""The test command: provision, start a throwaway PostgreSQL and Redis on
private ports, run pytest against them, stop them. Arguments go to pytest."""
import os
import secrets
import subprocess
import sys
import tempfile

from devstack import provision, services


def main(pytest_args):
    provision.ensure_apt(provision.TEST_PACKAGES)
    python = provision.ensure_venv()
    provision.ensure_step_user(os.environ.get("RUNBOOK_STEP_USER", "opsrunner"))
    workdir = tempfile.mkdtemp(prefix="ops-console-test-")
    # Steps run as the step user in a sandbox that sees none of the test's files: this
    # directory (writable by it) is the one place where tests and steps meet.
    shared = tempfile.mkdtemp(prefix="ops-console-test-steps-", dir="/var/tmp")
    os.chmod(shared, 0o1777)
    step_root = tempfile.mkdtemp(prefix="ops-console-test-step-dirs-", dir="/var/tmp")
    guardian = services.guard()  # a runner killed outright leaves no database or Redis behind
    for path in (workdir, shared, step_root):
        guardian.remove(path)
    postgres = services.Postgres(services.free_port(), os.path.join(workdir, "postgres"))
    redis = services.Redis(services.free_port(), os.path.join(workdir, "redis"), password=secrets.token_urlsafe(24))
    try:
        provision.say(f"starting PostgreSQL on 127.0.0.1:{postgres.port} and Redis on 127.0.0.1:{redis.port}")
        postgres.start()
        redis.start()
        env = dict(
            os.environ,
            DATABASE_URL=postgres.url,
            REDIS_URL=redis.url,
            SECRET_KEY=secrets.token_urlsafe(50),
            OPS_CONSOLE_HTTPS="false",
            OPS_CONSOLE_TEST_WORKDIR=workdir,
            OPS_CONSOLE_TEST_PGDATA=str(postgres.dir),
            OPS_CONSOLE_TEST_PGPORT=str(postgres.port),
            OPS_CONSOLE_TEST_REDIS_DIR=str(redis.dir),
            OPS_CONSOLE_TEST_STEP_SHARED=shared,
            RUNBOOK_STEP_SHARED_DIRS=shared,
            RUNBOOK_STEP_ROOT=step_root,
            PYTHONDONTWRITEBYTECODE="1",
        )
        result = subprocess.run([str(python), "-m", "pytest", *pytest_args], cwd=provision.REPO, env=env)
        return result.returncode
    finally:
        redis.stop()
        postgres.stop()
        services.remove_tree(workdir)
        services.remove_tree(shared)
        services.remove_tree(step_root)
        guardian.done()
