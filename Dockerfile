# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STATIC_ROOT=/app/staticfiles
WORKDIR /app
# The runbook steps run shell commands on workers: give them the usual tools.
RUN apt-get update && apt-get install -y --no-install-recommends curl procps iputils-ping dnsutils \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
# collectstatic needs settings; a throwaway key is fine at build time.
RUN SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput -v 0
RUN useradd --create-home --uid 1000 ops && chown -R ops /app
USER ops
EXPOSE 8000
CMD ["gunicorn", "ops_console.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--timeout", "60"]
