"""Render deploy/prometheus/ for a test and start Prometheus/Alertmanager on it."""
from devstack import services
from devstack.standalone import render_monitoring_config

ALERT_NAMES = {"HighLatency", "HighErrorRate", "ServiceDown", "MemoryLeakSuspected", "AIProcessingBacklog"}


def render(dest, *, console_url="http://127.0.0.1:8000", prometheus_port=9090, alertmanager_port=9093,
           interval="15s", group_wait="10s", token_file=None):
    token_file = token_file or dest / "token"
    if not token_file.exists():
        token_file.write_text("test-token")
    host = console_url.split("://", 1)[1]
    return render_monitoring_config(
        dest, config_dir=dest, scrape_interval=interval, evaluation_interval=interval, console_scheme="http",
        console_target=host, prometheus_target=f"127.0.0.1:{prometheus_port}",
        alertmanager_target=f"127.0.0.1:{alertmanager_port}", base_url=console_url, console_url=console_url,
        token_file=token_file, group_wait=group_wait, group_interval=group_wait)


def start(conf, workdir, prometheus_port, alertmanager_port):
    alertmanager = services.Alertmanager(alertmanager_port, conf / "alertmanager.yml", workdir / "am").start()
    try:
        prometheus = services.Prometheus(prometheus_port, conf / "prometheus.yml", workdir / "prom").start()
    except Exception:
        alertmanager.stop()
        raise
    return prometheus, alertmanager
