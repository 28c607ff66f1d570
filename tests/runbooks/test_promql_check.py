"""promql_check: the queries of promql and wait steps, placeholders filled with
sample values, parsed by promtool in one call; errors come back with file:line."""
import shutil
import subprocess
from pathlib import Path

import pytest

from ops_console.runbooks import promql_check
from ops_console.runbooks.document import Parameter
from ops_console.runbooks.parser import parse

REPO = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) is not installed")

QUERIES = """---
parameters:
  job:
    pattern: '^[a-z]+$'
  window:
    pattern: '^[0-9]+[smh]$'
  limit:
    type: int
---
# Queries

```promql title="Good"
sum(rate(http_requests_total{job="{{ job }}"}[{{ window }}])) > {{ limit }}
```

```promql title="Unclosed"
sum(rate(http_requests_total{job="{{ job }}"}[5m])
```

```wait for=1m

up{job="{{ job }}"} ==
```

```wait
30s
```
"""


def checked(text, path="queries.md", **kw):
    doc, problems = parse(text, path=path)
    assert [p for p in problems if p.severity == "error"] == []
    return promql_check.check([(path, doc, text)], **kw)


@needs_promtool
def test_each_syntax_error_names_the_first_query_line_of_its_step():
    problems, note = checked(QUERIES)
    assert note is None
    assert [str(p) for p in problems] == [
        "queries.md:17: error: PromQL syntax error (promtool): unclosed left parenthesis at 1:43 of the query",
        "queries.md:22: error: PromQL syntax error (promtool): unexpected end of input at 1:15 of the query",
    ]


@needs_promtool
def test_a_good_library_is_checked_in_one_promtool_call(monkeypatch):
    calls = []
    run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **kw: calls.append(a) or run(*a, **kw))
    documents = []
    for path in sorted((REPO / "runbooks").glob("*.md")):
        text = path.read_text()
        doc, _ = parse(text, path=str(path))
        documents.append((str(path), doc, text))
    assert sum(len(promql_check.queries(doc)) for _, doc, _ in documents) > 100
    assert promql_check.check(documents) == ([], None)
    assert len(calls) == 1


def test_placeholders_get_a_default_a_choice_or_a_sample_of_their_type():
    assert promql_check.sample_value(Parameter("a", default="checkout", choices=["x"])) == "checkout"
    assert promql_check.sample_value(Parameter("a", type="choice", choices=["blue", "green"])) == "blue"
    assert promql_check.sample_value(Parameter("a", type="int")) == 1
    assert promql_check.sample_value(Parameter("a")) == "x"
    assert promql_check.sample_value(Parameter("a", pattern="^[0-9]+[smh]$")) == "5m"
    doc, _ = parse(QUERIES, path="queries.md")
    assert promql_check.queries(doc)[0][1] == 'sum(rate(http_requests_total{job="x"}[5m])) > 1'
    assert len(promql_check.queries(doc)) == 3      # the wait for a duration has no query


def test_without_promtool_nothing_is_checked_and_it_says_so(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    problems, note = checked(QUERIES)
    assert problems == []
    assert note == "promtool is not installed (Debian package prometheus): PromQL queries were not checked"


def test_a_runbook_without_queries_runs_no_promtool():
    assert checked("# Plain\n\n```shell\ntrue\n```\n", promtool="/nonexistent/promtool") == ([], None)


def test_an_error_on_a_later_line_of_a_query_names_that_line(tmp_path):
    from ops_console.runbooks import promql_check
    from ops_console.runbooks.parser import parse

    text = "# Q\n\n```promql\n\nsum(rate(x[5m]))\n  / sum(rate(y[5m])\n```\n"
    doc, problems = parse(text, path="q.md")
    assert problems == []
    found, note = promql_check.check([("q.md", doc, text)])
    assert note is None and [(p.path, p.line) for p in found] == [("q.md", 6)]
