"""Install what the commands need on a fresh Debian machine: apt packages and
the project's virtualenv (only when something is missing or changed)."""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
# The runtime pins, and the test tools on top of them (requirements-dev.lock includes the first):
# the commands here run the tests too, so the virtualenv gets both.
LOCKS = (REPO / "requirements.lock", REPO / "requirements-dev.lock")

# Debian package -> a file that proves it is installed.
APT_PACKAGES = {
    "redis-server": "/usr/bin/redis-server",
    "postgresql": "/usr/lib/postgresql/15/bin/initdb",
    "prometheus": "/usr/bin/prometheus",
    "prometheus-alertmanager": "/usr/bin/prometheus-alertmanager",
    "chromium": "/usr/bin/chromium",
    "bubblewrap": "/usr/bin/bwrap",
}
STANDALONE_PACKAGES = ("redis-server", "postgresql", "prometheus", "prometheus-alertmanager", "bubblewrap")
TEST_PACKAGES = tuple(APT_PACKAGES)


def say(message):
    print(f"[ops-console] {message}", flush=True)


def ensure_apt(packages):
    missing = [p for p in packages if not Path(APT_PACKAGES[p]).exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing Debian packages {missing}; run as root or install them: apt-get install -y {' '.join(missing)}")
    say(f"installing Debian packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def ensure_step_user(name="opsrunner"):
    """The unprivileged user that runbook steps run as (never the console's own)."""
    if subprocess.run(["id", "-u", name], capture_output=True).returncode == 0:
        return
    if os.geteuid() != 0:
        sys.exit(f"the step user {name!r} is missing; as root: useradd --system --no-create-home "
                 f"--home-dir /nonexistent --shell /usr/sbin/nologin {name}")
    say(f"creating the step user {name}")
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", name], check=True)


def venv_python():
    return VENV / "bin" / "python"


def ensure_venv():
    """Create .venv and install the pinned dependencies when either lock changed."""
    digest = hashlib.sha256(b"".join(lock.read_bytes() for lock in LOCKS)).hexdigest()
    marker = VENV / ".requirements.sha256"
    if marker.exists() and marker.read_text().strip() == digest and venv_python().exists():
        return venv_python()
    if not venv_python().exists():
        say("creating the virtualenv .venv")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        except subprocess.CalledProcessError:
            # Debian's python3 ships venv separately.
            ensure_apt_raw(["python3-venv"])
            shutil.rmtree(VENV, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    say("installing Python dependencies from requirements.lock and requirements-dev.lock")
    pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-r", str(LOCKS[-1])], check=True)
    marker.write_text(digest)
    return venv_python()


def ensure_apt_raw(names):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *names], check=True, env=env, stdout=subprocess.DEVNULL)
