"""PromQL of `promql` and `wait` steps checked by Prometheus's own parser before
it runs: every query, its {{ placeholders }} filled with sample values, becomes
a recording rule of one generated file, and one `promtool check rules` call
reads them all (so linting a whole library stays one process)."""
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .document import Problem
from .params import PLACEHOLDER_RE, RenderError, render_text

TIMEOUT = 60    # seconds for one promtool call; a whole library takes well under one
# promtool's report of one rule: `FILE: 7:15: group "g", rule 2, "query_1": could not parse expression: 1:16: ...`
RULE_ERROR_RE = re.compile(r'^.*?: \d+:\d+: group "[^"]*", rule \d+, "query_(?P<n>\d+)": (?P<message>.*)$')
PARSE_ERROR_RE = re.compile(r"^could not parse expression: (?P<line>\d+):(?P<column>\d+): parse error: (?P<what>.*)$")
# Strings tried in turn against a parameter's pattern when it has no default or choice.
STRING_SAMPLES = ("x", "1", "5m", "a-1", "a.b", "0")


def sample_value(param):
    """A value a person could type: the default, else the first choice, else one of the type."""
    if param.default is not None:
        return param.default
    if param.choices:
        return param.choices[0]
    if param.type == "int":
        return 1
    if param.type == "bool":
        return True
    if param.pattern:
        for text in STRING_SAMPLES:
            try:
                if re.fullmatch(param.pattern, text):
                    return text
            except re.error:
                break
    return "x"


def queries(doc):
    """[(step, query)] for every step whose body Prometheus will evaluate, with
    sample values in place of its placeholders. A step using an undeclared
    placeholder is left out: the parser already reports it."""
    values = {p.name: sample_value(p) for p in doc.parameters}
    found = []
    for step in doc.steps:
        if step.kind not in ("promql", "wait") or not step.body.strip():
            continue
        if any(name not in values for name in PLACEHOLDER_RE.findall(step.body)):
            continue
        try:
            lines = render_text(step.body, values, kind="promql").split("\n")
        except RenderError:
            continue
        while lines and not lines[0].strip():   # line 1 of the query is first_query_line()
            lines.pop(0)
        found.append((step, "\n".join(lines)))
    return found


def first_query_line(text, step):
    """The line of the first non-blank line after the step's fence."""
    lines = (text or "").lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    number = step.line + 1
    while number <= len(lines) and not lines[number - 1].strip():
        number += 1
    return number if number <= len(lines) else step.line


def check(documents, *, promtool=None):
    """documents: [(path, doc, text)] -> (problems, note). `note` says why
    nothing was checked (promtool missing or failing), else it is None."""
    places, rules = [], []
    for path, doc, text in documents:
        for step, query in queries(doc):
            places.append((path, first_query_line(text, step)))
            rules.append({"record": f"query_{len(rules)}", "expr": query})
    if not rules:
        return [], None
    promtool = promtool or shutil.which("promtool")
    if not promtool:
        return [], "promtool is not installed (Debian package prometheus): PromQL queries were not checked"
    with tempfile.TemporaryDirectory(prefix="runbook-promql-") as tmp:
        rule_file = Path(tmp) / "queries.yml"
        # JSON is YAML: every query stays one quoted string, whatever it contains.
        rule_file.write_text(json.dumps({"groups": [{"name": "runbooks", "rules": rules}]}, ensure_ascii=False),
                             encoding="utf-8")
        try:
            result = subprocess.run([promtool, "check", "rules", "--lint=none", str(rule_file)],
                                    capture_output=True, text=True, timeout=TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return [], f"promtool could not be run ({exc}): PromQL queries were not checked"
    if result.returncode == 0:
        return [], None
    problems, unexplained = [], []
    for line in result.stderr.splitlines():
        match = RULE_ERROR_RE.match(line.strip())
        if match is None:
            if line.strip() and line.strip() != "FAILED:":
                unexplained.append(line.strip())
            continue
        path, number = places[int(match.group("n"))]
        parsed = PARSE_ERROR_RE.match(match.group("message"))
        if parsed is not None:  # promtool counts lines within the query: name the file's own line
            number += int(parsed.group("line")) - 1
        problems.append(Problem(path, number, _message(match.group("message"))))
    if not problems:
        detail = "; ".join(unexplained[:3]) or f"exit status {result.returncode}"
        return [], f"promtool failed ({detail}): PromQL queries were not checked"
    return problems, None


def _message(text):
    parsed = PARSE_ERROR_RE.match(text)
    if parsed is None:
        return f"PromQL error (promtool): {text}"
    return (f"PromQL syntax error (promtool): {parsed.group('what')} "
            f"at {parsed.group('line')}:{parsed.group('column')} of the query")
