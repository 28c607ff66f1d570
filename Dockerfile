# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STATIC_ROOT=/app/staticfiles
WORKDIR /app
# The runbook steps run shell commands on workers: give them the usual tools, and
# bubblewrap for the step sandbox (setpriv and prlimit come with util-linux).
RUN apt-get update && apt-get install -y --no-install-recommends curl procps iputils-ping dnsutils \
    bubblewrap \
    && rm -rf /var/lib/apt/lists/*
# Runtime pins only: the test tools (requirements-dev.lock) stay out of the image.
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
# collectstatic needs settings but no database: a throwaway key and address are fine at build time.
RUN SECRET_KEY=build-only-not-secret DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput -v 0
# ops runs the web and beat; the worker starts as root (docker-compose.yml) only to hand
# each step to opsrunner, which runs the runbooks' steps and nothing else: it can read
# none of /app's secrets, the worker's environment or another step's directory.
RUN useradd --create-home --uid 1000 ops && chown -R ops /app \
    && useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin opsrunner \
    && install -d -o ops -m 0700 /var/lib/ops-console /var/lib/ops-console/credentials \
    && install -d -m 0711 /var/tmp/ops-console-steps
ENV OPS_CONSOLE_DATA_DIR=/var/lib/ops-console RUNBOOK_STEP_USER=opsrunner
USER ops
EXPOSE 8000
CMD ["gunicorn", "ops_console.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--timeout", "60"]
