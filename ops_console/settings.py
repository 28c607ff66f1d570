"""Ops Console settings: everything comes from the environment, with defaults
for the standalone mode and refusals for unsafe production values."""
import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-insecure-ops-console-key-do-not-use-in-production"


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def env(name, default=None):
    return os.environ.get(name, default)


def envbool(name, default=False):
    """A typo must not switch a setting off: anything but the usual spellings is refused."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={os.environ[name]!r} is not a yes/no value: use one of "
                               f"{', '.join(TRUE_WORDS)} or {', '.join(FALSE_WORDS)}")


def envint(name, default):
    return _envnumber(name, default, int, "a whole number")


def envfloat(name, default):
    return _envnumber(name, default, float, "a number")


def _envnumber(name, default, kind, what):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return kind(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={os.environ[name]!r} is not {what}") from None


def envlist(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def read_standalone_env(path):
    """The settings `python3 -m devstack run` wrote for its data directory (KEY=VALUE
    lines): the database, Redis and secret key of the standalone console, so that
    `.venv/bin/python manage.py ...` works in a standalone checkout as it is."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ImproperlyConfigured(f"cannot read the standalone settings in {path}: {exc}") from exc
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


STANDALONE_ENV = Path(os.environ.get("OPS_CONSOLE_DATA_DIR") or BASE_DIR / ".data") / "env"
# Only when the environment names no database: production and the test runner always do, and
# then a developer's standalone data directory in the same checkout must not leak into them.
if "DATABASE_URL" not in os.environ and STANDALONE_ENV.is_file():
    for key, value in read_standalone_env(STANDALONE_ENV).items():
        os.environ.setdefault(key, value)

DEBUG = envbool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY") or (DEV_SECRET_KEY if DEBUG else "")
if not DEBUG and SECRET_KEY in ("", DEV_SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a private random value when DEBUG is off "
        "(the standalone command generates one in its data directory)."
    )

DATA_DIR = Path(env("OPS_CONSOLE_DATA_DIR", BASE_DIR / ".data"))
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
# The public address of the console: links in pages, e-mails and alert rules point here.
BASE_URL = env("OPS_CONSOLE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # the REST API's docs page then uses ninja's own Swagger files, not a CDN
    "axes",  # sign-in throttling (see AXES_* below)
    "ops_console.ui",
    "ops_console.accounts",
    "ops_console.audit",
    "ops_console.health",
    "ops_console.monitoring",
    "ops_console.runbooks",
    "ops_console.incidents",
    "ops_console.escalation",
    "ops_console.history",
    "ops_console.api",
    "ops_console.bootstrap",
    "ops_console.demo",
]

MIDDLEWARE = [
    "ops_console.health.middleware.RequestMetricsMiddleware",
    # Early: an overloaded /api/ answers 503 + Retry-After before any session or database work.
    "ops_console.health.shedding.LoadSheddingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ops_console.ui.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every view needs a signed-in user unless it says @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ops_console.audit.middleware.AuditContextMiddleware",
    # A view that finds the database unreachable answers 503 + Retry-After, not 500.
    "ops_console.health.middleware.DatabaseUnavailableMiddleware",
    # Last, as axes asks: turns a sign-in refused for a lockout into our lockout page.
    "axes.middleware.AxesMiddleware",
]

# PagerDuty Events API v2 (/api/v1/pagerduty/enqueue): payload.severity → a severity code, which
# the alert routing's mappings then resolve (the defaults map p1..p3 to P1..P3; there is no P4).
PAGERDUTY_SEVERITIES = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P3"}

# At most this many /api/ requests in flight per web process (threads); more get 503 + Retry-After (0: no limit).
API_MAX_INFLIGHT = envint("OPS_CONSOLE_API_MAX_INFLIGHT", 32)

ROOT_URLCONF = "ops_console.urls"
WSGI_APPLICATION = "ops_console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ops_console.accounts.context_processors.role",
            ],
        },
    },
]

# PostgreSQL, always: the standalone command runs a private cluster in its data directory.
if not env("DATABASE_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL must be set, e.g. postgres://user:password@host:5432/ops_console (in a standalone "
        f"checkout, start `python3 -m devstack run` once: it writes {STANDALONE_ENV} for manage.py)."
    )
# Health checks: a persistent connection that died with a database restart is
# replaced before use instead of failing the first request that picks it up.
DATABASES = {"default": dj_database_url.parse(env("DATABASE_URL"), conn_max_age=envint("DB_CONN_MAX_AGE", 0),
                                              conn_health_checks=True)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "ops-console",
        # A dead Redis must not hang a page: fail fast, callers fall back.
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", BASE_DIR / ".data" / "static"))
# Serve straight from the source folders when nothing was collected (tests, development).
WHITENOISE_USE_FINDERS = envbool("WHITENOISE_USE_FINDERS", True)

# Security headers. Behind HTTPS (the production default) cookies are secure and
# HSTS is on; the standalone and test commands set OPS_CONSOLE_HTTPS=false.
HTTPS = envbool("OPS_CONSOLE_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 12 * 3600)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts only from our own static files: no inline script, no eval, no CDN.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "ops-console@localhost")
# How long the acknowledge link in a page works.
ESCALATION_ACK_LINK_HOURS = envint("ESCALATION_ACK_LINK_HOURS", 24)
# A worker's claim on a page delivery: longer than a send may take (the deliver task's
# time limit is kept below it), short so a delivery whose worker died goes out again soon.
ESCALATION_DELIVERY_LEASE_SECONDS = envint("ESCALATION_DELIVERY_LEASE_SECONDS", 20)
if ESCALATION_DELIVERY_LEASE_SECONDS < 10:
    raise ImproperlyConfigured("ESCALATION_DELIVERY_LEASE_SECONDS must be at least 10 (a webhook may take 5 s)")
# Alertmanager deliveries are applied by this many appliers, each owning a share of the
# dedup keys (alert_queue.py): as many as the cores the database and workers share. Every
# process must be given the same number (a delivery stored with another is applied alone).
ALERT_APPLIERS = envint("OPS_CONSOLE_ALERT_APPLIERS", 2)
if not 1 <= ALERT_APPLIERS <= 16:
    raise ImproperlyConfigured("OPS_CONSOLE_ALERT_APPLIERS must be between 1 and 16")
# A worker does beat's essential work itself (escalations, reconcilers) once no beat tick
# came for this many seconds (0: never); see ops_console/beat_watch.py.
BEAT_STANDIN_AFTER = envint("OPS_CONSOLE_BEAT_STANDIN_AFTER", 30)
# A running step whose worker stopped heartbeating this long is "worker lost";
# a queued step nobody picked up this long is sent again (a broker restart).
RUNBOOK_WORKER_LOST_AFTER = envint("RUNBOOK_WORKER_LOST_AFTER", 30)
RUNBOOK_REQUEUE_AFTER = envint("RUNBOOK_REQUEUE_AFTER", 20)
# A running step's output is pushed to the run page (Redis, then server-sent events);
# off: the page polls the run every second. A stream holds a web thread: it lasts at most
# RUNBOOK_STREAM_SECONDS (the page reconnects) and each process serves at most
# RUNBOOK_STREAMS_PER_PROCESS at once (half of gunicorn's --threads 4; more pages poll).
RUNBOOK_LIVE_OUTPUT = envbool("RUNBOOK_LIVE_OUTPUT", True)
RUNBOOK_STREAM_SECONDS = envint("RUNBOOK_STREAM_SECONDS", 30)
RUNBOOK_STREAMS_PER_PROCESS = envint("RUNBOOK_STREAMS_PER_PROCESS", 2)
# Shell steps run as this unprivileged user, never as the worker's (which must be root,
# or may run the step user through sudo: see docs/operations.md).
RUNBOOK_STEP_USER = env("RUNBOOK_STEP_USER", "opsrunner")
# auto: a bubblewrap sandbox (own processes, own directory) where namespaces work, else the
# step user's permissions alone; namespaces: refuse to run steps without the sandbox; user: never use it.
RUNBOOK_STEP_ISOLATION = env("RUNBOOK_STEP_ISOLATION", "auto")
if RUNBOOK_STEP_ISOLATION not in ("auto", "namespaces", "user"):
    raise ImproperlyConfigured("RUNBOOK_STEP_ISOLATION must be auto, namespaces or user")
# Each step gets a HOME and working directory of its own below this, removed when it ends.
RUNBOOK_STEP_ROOT = env("RUNBOOK_STEP_ROOT", "/var/tmp/ops-console-steps")
RUNBOOK_STEP_PATH = env("RUNBOOK_STEP_PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
RUNBOOK_STEP_LANG = env("RUNBOOK_STEP_LANG", "C.UTF-8")
# Limits of every step process (a step's own memory=/processes=/file_size= attributes, then
# RUNBOOK_QUEUE_LIMITS, e.g. {"production": {"memory": "4g", "processes": 512}}, come first).
RUNBOOK_STEP_MEMORY = env("RUNBOOK_STEP_MEMORY", "2g")
RUNBOOK_STEP_PROCESSES = envint("RUNBOOK_STEP_PROCESSES", 256)
RUNBOOK_STEP_FILE_SIZE = env("RUNBOOK_STEP_FILE_SIZE", "1g")
try:
    RUNBOOK_QUEUE_LIMITS = json.loads(env("RUNBOOK_QUEUE_LIMITS", "{}"))
except ValueError as exc:
    raise ImproperlyConfigured(f"RUNBOOK_QUEUE_LIMITS is not JSON: {exc}") from exc
# Credentials attached to a queue: files in <dir>/<queue>/ on the workers (see docs/operations.md).
RUNBOOK_CREDENTIALS_DIR = env("RUNBOOK_CREDENTIALS_DIR", str(DATA_DIR / "credentials"))
# Paths a step never sees (the data directory always), and directories it may share read-write.
RUNBOOK_STEP_HIDDEN_PATHS = envlist("RUNBOOK_STEP_HIDDEN_PATHS")
RUNBOOK_STEP_SHARED_DIRS = envlist("RUNBOOK_STEP_SHARED_DIRS")
# Raw alert payloads are kept for inspection this long (incidents and the audit log are never pruned).
WEBHOOK_PAYLOAD_RETENTION_DAYS = envint("WEBHOOK_PAYLOAD_RETENTION_DAYS", 30)
# Only behind a proxy that sets X-Forwarded-For: the audit log then records the client's address.
USE_X_FORWARDED_FOR = envbool("USE_X_FORWARDED_FOR", False)

# Sign-in throttling (django-axes): this many failed sign-ins for one username, or from one client
# address, within the cool-off lock that username or address until the cool-off has passed since
# the last attempt (each refused attempt starts it again). An admin lifts it sooner: docs/operations.md.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The same client address the audit log records (X-Forwarded-For only when USE_X_FORWARDED_FOR).
AXES_CLIENT_IP_CALLABLE = "ops_console.audit.context.client_ip"
AXES_LOCKOUT_CALLABLE = "ops_console.accounts.throttling.lockout_response"
# Sign-ins are in the audit log already; axes' own copy would only grow.
AXES_DISABLE_ACCESS_LOG = True
# Failed sign-ins are kept here (axes' AccessFailureLog, per username up to the limit),
# not in the audit chain: an anonymous stranger must not take the chain's lock.
# Lockouts (auth.locked_out) are chained.
AXES_ENABLE_ACCESS_FAILURE_LOG = True

PROMETHEUS_URL = env("PROMETHEUS_URL", "http://127.0.0.1:9090").rstrip("/")
ALERTMANAGER_URL = env("ALERTMANAGER_URL", "http://127.0.0.1:9093").rstrip("/")
PROMETHEUS_TIMEOUT = envfloat("PROMETHEUS_TIMEOUT", 2.0)
# Optional bearer token that /metrics then requires.
METRICS_TOKEN = env("METRICS_TOKEN", "")

# The audit log's seal and witness (docs/operations.md, "Auditing the audit log"). The chain key:
# one or more keys (oldest first, whitespace between), from the environment or a file kept out of
# the database's backups; the file is made on the first entry when neither is there.
AUDIT_CHAIN_KEY = env("AUDIT_CHAIN_KEY", "")
AUDIT_CHAIN_KEY_FILE = env("AUDIT_CHAIN_KEY_FILE", str(DATA_DIR / "audit_chain_key"))
# Where the beat task appends the chain head when it moved ("": no file), and a URL it POSTs it to.
AUDIT_WITNESS_FILE = env("AUDIT_WITNESS_FILE", str(DATA_DIR / "audit_witness.jsonl"))
AUDIT_WITNESS_URL = env("AUDIT_WITNESS_URL", "")
AUDIT_WITNESS_TOKEN = env("AUDIT_WITNESS_TOKEN", "")  # sent as a bearer token, when set
if AUDIT_WITNESS_URL and not AUDIT_WITNESS_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("AUDIT_WITNESS_URL must be an http(s) URL")

# Celery. The broker is Redis; task messages carry only ids.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# acks_late: a message is acknowledged only after the task returns, so a worker
# that dies mid-task leaves the message to be delivered again instead of losing it.
CELERY_TASK_ACKS_LATE = True
# ...and when the worker process is killed (SIGKILL, OOM) the message is
# re-queued rather than acked. Re-delivery is safe because every task claims its
# row with a conditional UPDATE and exits if it was already claimed.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per process: with acks_late, prefetched messages would
# wait behind a long shell step and be re-delivered on a crash for no reason.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Paging has a queue of its own, served by workers that run no steps (`-Q paging`): a pool
# whose slots are busy with long shell steps must never hold back an escalation level or a page.
# Sending pages waits behind the rest of that queue (with Redis, priority 0 is the highest and
# the default): after a broker restart hundreds of deliveries may be queued at once, and the
# engine's tick must not wait for them before it fires the next due level.
CELERY_TASK_ROUTES = {
    "ops_console.escalation.tasks.send_deliveries": {"queue": "paging", "priority": 9},
    "ops_console.escalation.tasks.deliver": {"queue": "paging", "priority": 9},
    "ops_console.escalation.tasks.*": {"queue": "paging"},
}
# Reconnects within a second of the broker's return (ops_console/celery.py says why).
CELERY_WORKER_CONSUMER = "ops_console.celery:PromptReconnectConsumer"
# Redis re-delivers unacked messages after this; steps are bounded well below it.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False

# Periodic work. Beat only rings the bell; each task reads the due rows from the
# database, so a missed beat is caught up by the next one.
CELERY_BEAT_SCHEDULE = {
    "runbooks-reconcile": {
        "task": "ops_console.runbooks.tasks.reconcile_runs",
        "schedule": timedelta(seconds=10),
    },
    "runbooks-fire-schedules": {  # recurring runs; each occurrence is claimed in the database
        "task": "ops_console.runbooks.tasks.fire_due_schedules",
        "schedule": timedelta(seconds=15),
    },
    "escalations-fire-due": {
        "task": "ops_console.escalation.tasks.fire_due_escalations",
        "schedule": timedelta(seconds=2),
    },
    "escalations-audit": {
        "task": "ops_console.escalation.tasks.audit_escalations",
        "schedule": timedelta(seconds=60),
    },
    "notifications-retry": {  # often: a delivery whose worker died goes out again soon after its lease
        "task": "ops_console.escalation.tasks.retry_deliveries",
        "schedule": timedelta(seconds=5),
    },
    "incidents-drain-alert-queue": {  # Alertmanager deliveries a busy intake queued, if their bell was lost
        "task": "ops_console.incidents.tasks.drain_alert_queue",
        "schedule": timedelta(seconds=5),
    },
    "incidents-prune-payloads": {  # raw webhook bodies older than 30 days
        "task": "ops_console.incidents.tasks.prune_payloads",
        "schedule": timedelta(hours=1),
    },
    "audit-witness-head": {  # the chain head to AUDIT_WITNESS_FILE / _URL, when it moved
        "task": "ops_console.audit.tasks.witness_chain_head",
        "schedule": timedelta(seconds=60),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # axes logs every sign-in at INFO (the audit log has them); failures and lockouts are WARNING.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
