"""The benchmark command in its short (CI) mode: it runs every bench/*.py,
writes one report with the machine and versions, and nothing failed."""
import re
import subprocess

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def test_the_short_benchmark_writes_a_report_with_a_section_per_script(tmp_path):
    report = tmp_path / "report.md"
    scripts = sorted(p.stem for p in (REPO / "bench").glob("*.py") if not p.name.startswith("_"))
    # The command starts its own PostgreSQL and Redis: the test runner's are left alone.
    result = subprocess.run(["python3", "-m", "devstack", "bench", "--short", "--output", str(report)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    text = report.read_text()
    assert text.startswith("# Ops Console benchmark report (short (CI) mode)")
    assert "- Machine: " in text and "Django 5.2" in text and "PostgreSQL" in text and "Redis server" in text
    failed = re.findall(r"^## (\S+): FAILED.*$", text, flags=re.M)
    assert not failed, f"benchmarks failed: {failed}\n{text[-4000:]}"
    sections = re.findall(r"^## .+$", text, flags=re.M)
    assert len(sections) == len(scripts), (sections, scripts)
    # The intake's record floor ran beside its cases (it deletes and rewrites their rows).
    assert re.search(r"^\| gunicorn \d+ workers, \d+ senders \| 50 \| [\d,]+ \| [\d,]+ \| [\d,]+ \| [\d.]+% \|", text, re.M), text[-4000:]
    assert result.returncode == 0
