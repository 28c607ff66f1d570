"""The Markdown runbook parser: the format of runbooks/README.md, on
hand-written files (tests/runbooks/data/) and small inline texts."""
import json
import os
import re
from pathlib import Path

import pytest

from ops_console.runbooks.document import RunbookDocument
from ops_console.runbooks.front_matter import KEYS
from ops_console.runbooks.parser import import_markdown, parse, parse_budget, parse_duration
from ops_console.ui.markdown import render

DATA = Path(__file__).parent / "data"
README = Path(__file__).resolve().parents[2] / "runbooks" / "README.md"
LIBRARY = README.parent
GOLDEN = Path(__file__).parent / "golden"


def parse_file(name, **kw):
    return parse((DATA / name).read_text(), path=name, **kw)


def messages(problems, severity="error"):
    return [(p.line, p.message) for p in problems if p.severity == severity]


def runbook(body, front="title: T\nparameters:\n  name: {pattern: '^[a-z]+$'}\n  n: {type: int, default: 3}"):
    return parse(f"---\n{front}\n---\n{body}", path="t.md")


# --- a complete file ---------------------------------------------------------------

def test_full_file_front_matter_and_parameters():
    doc, problems = parse_file("full.md")
    assert messages(problems) == []
    assert (doc.slug, doc.title, doc.kind) == ("full", "Disk filling up", "runbook")
    assert doc.services == ["backend", "ai-core"] and doc.alerts == ["DiskFillingUp"]
    assert (doc.severity, doc.owner, doc.tags) == ("P2", "platform", ["disk"])
    host, mount, keep_days, dry_run = doc.parameters
    assert (host.name, host.required, host.pattern, host.line) == ("host", True, "^[a-z0-9.-]+$", 10)
    assert (mount.type, mount.choices, mount.default) == ("choice", ["/", "/var", "/data"], "/var")
    assert (keep_days.type, keep_days.default, dry_run.type, dry_run.default) == ("int", 7, "bool", True)
    assert [p.shell for p in doc.parameters] == [True, True, True, False]


def test_full_file_phases_and_prose():
    doc, _ = parse_file("full.md")
    assert [(p.title, p.budget_start_min, p.budget_end_min, p.line) for p in doc.phases] == [
        ("Look", 0.0, 1.0, 30), ("Clean up", 1.0, 10.0, 52)]
    assert doc.description.startswith("A disk on **{{ host }}** will be full soon.")
    assert "# Disk filling up" not in doc.description
    assert doc.phases[0].text.startswith("```yaml")     # a code sample stays prose
    assert doc.phases[1].text == "Nothing else to do."


def test_full_file_steps():
    doc, problems = parse_file("full.md")
    rows = [(s.kind, s.line, s.phase, s.auto, s.confirm) for s in doc.steps]
    assert rows == [("promql", 32, 0, True, False), ("shell", 39, 0, True, False), ("manual", 54, 1, False, False),
                    ("shell", 57, 1, False, True), ("http", 61, 1, False, False), ("wait", 68, 1, True, False),
                    ("approval", 71, 1, False, False)]
    promql, console, manual, delete, http, wait, approval = doc.steps
    assert console.explanation == "Which directories grow?" and console.timeout == 120
    assert console.body == ("printf '%s\\n' {{ mount }} | ssh {{ host }} 'read -r m; du -xh \"$m\" --max-depth=2 \\\n"
                            "    --threshold=1G'\n"
                            "printf '%s\\n' {{ mount }} | ssh {{ host }} 'read -r m; df -h \"$m\"'")
    assert manual.body == "Tell the owners of {{ host }} that logs older than\nthe retention will be deleted."
    assert (delete.on_failure, delete.retries, delete.queue, delete.params) == (
        "continue", 2, "production", ["mount", "keep_days"])
    assert (http.method, http.expect_status) == ("POST", 202)
    assert ["auto=true is ignored for POST" in m for _, m in messages(problems, "warning")] == [False, True]
    assert (wait.body, wait.hold_for, wait.title) == ("", 30.0, "Wait 30s")
    assert (approval.ttl, approval.title) == (3600.0, "Grow the volume?")
    assert promql.expect == "> 0.1" and promql.title == "Free space"


def test_document_survives_json():
    doc, _ = parse_file("full.md")
    assert RunbookDocument.from_json(doc.to_json()) == doc


def test_readme_example_parses_without_problems():
    example = re.search(r"````markdown\n(.*?)\n````", README.read_text(), re.S).group(1)
    doc, problems = parse(example, path="high-error-rate.md")
    assert problems == []
    assert [p.heading for p in doc.phases] == [
        "Immediate actions (0-5 min)", "Diagnosis (5-15 min)", "Mitigation (15-30 min)", "Follow-up"]
    assert [s.kind for s in doc.steps] == ["manual", "promql", "http", "shell", "shell", "shell", "wait", "approval",
                                           "shell", "manual"]
    assert [s.auto for s in doc.steps] == [False, True, True, True, True, False, True, False, False, False]
    assert doc.steps[4].body == "kubectl get events -n {{ namespace }} --sort-by=.lastTimestamp"


def test_slug_defaults_to_file_name():
    assert parse("", path="runbooks/High Error_Rate.md")[0].slug == "high-error-rate"
    assert parse("", path="x.md", slug="given")[0].slug == "given"
    assert parse("# Heading title\n", path="a-b.md")[0].title == "Heading title"
    assert parse("", path="disk-full.md")[0].title == "Disk full"


# --- budgets, durations, defaults ------------------------------------------------------

@pytest.mark.parametrize("heading, expected", [
    ("Immediate actions (0-5 min)", ("Immediate actions", 0.0, 5.0, True)),
    ("Diagnosis (5-15 min)", ("Diagnosis", 5.0, 15.0, True)),
    ("Triage (< 1 min)", ("Triage", 0.0, 1.0, True)),
    ("Check (30-60s)", ("Check", 0.5, 1.0, True)),
    ("Recovery (2h)", ("Recovery", None, 120.0, True)),
    ("Escalation (optional)", ("Escalation (optional)", None, None, True)),
    ("Rollout (10%, 50%)", ("Rollout (10%, 50%)", None, None, True)),
    ("Per host (5 min per host)", ("Per host (5 min per host)", None, None, False)),
])
def test_budgets(heading, expected):
    assert parse_budget(heading) == expected


def test_durations():
    assert [parse_duration(v) for v in ("30", "30s", "5m", "2h", "250ms", "soon")] == [30, 30, 300, 7200, 0.25, None]


def test_auto_defaults_by_kind():
    doc, problems = runbook(
        "```shell\nuptime\n```\n```bash auto=true\nuptime\n```\n```http\nGET https://x.test/\n```\n"
        "```http auto=false\nHEAD https://x.test/\n```\n```http method=DELETE\nhttps://x.test/1\n```\n"
        "```promql\nup\n```\n```promql confirm=true\nup\n```\n```approval auto=true\nOK?\n```\n- [ ] done\n")
    assert [s.auto for s in doc.steps] == [False, True, True, False, False, True, False, False, False]
    assert doc.steps[4].method == "DELETE"
    assert (28, "auto=true is ignored: an approval always waits for a commander") in messages(problems, "warning")


def test_prose_between_steps_explains_the_next_step():
    doc, _ = runbook("Intro.\n\n## P\n\nFirst why.\n\n```sh\na\n```\n\nSecond why.\n\n```sh\nb\n```\n")
    assert doc.description == "Intro."
    assert [s.explanation for s in doc.steps] == ["First why.", "Second why."]


def test_task_items_are_manual_steps():
    doc, _ = runbook("- [ ] Tell the channel\n* [x] Already done\n  with more words\n- not a task\n")
    assert [(s.kind, s.body, s.auto, s.line) for s in doc.steps] == [
        ("manual", "Tell the channel", False, 7), ("manual", "Already done\nwith more words", False, 8)]


def test_placeholders_are_collected_and_escapes_kept():
    doc, problems = runbook("```shell\necho {{ name }} {{n}} {{ name }} '\\{{end}}'\n```\n")
    assert doc.steps[0].params == ["name", "n"]
    assert messages(problems) == []


# --- bad input: problems with lines, never an exception --------------------------------------

def test_broken_file_reports_every_problem_with_its_line():
    doc, problems = parse_file("broken.md")
    # the list of known attributes grows with the engine: test_bad_input_is_a_problem covers it
    found = [(line, re.sub(r"\(known: (auto|title), .*\)$", "(known: ...)", m)) for line, m in messages(problems)]
    assert found == [
        (3, "unknown front matter key 'flavour' (known: ...)"),
        (6, "parameter 'service': the default 'Not-Lower' must match the pattern ^[a-z]+$"),
        (9, "parameter 'count': the default 'many' must be a whole number"),
        (12, "parameter 'regex': pattern '^(unclosed$' is not a valid regular expression: missing ), "
             "unterminated subpattern at position 1"),
        (14, "parameter 'mode': a choice needs a list of choices"),
        (19, "timeout='soon' is not a duration (write 30, 30s, 5m or 2h)"),
        (20, "{{ unit }} is not a declared parameter (declare it under parameters: in the front matter, or write "
             "\\{{ for literal braces)"),
        (23, "unknown attribute 'titel' (known: ...)"),
        (24, "{{ service }} is inside single quotes (it would stay the literal text of a variable reference; close "
             "the quotes around it: 'a'{{ name }}'b'): use the parameter as an argument of a program that treats it "
             "as data"),
        (31, "unknown step kind 'rust' (known: approval, http, promql, shell, wait, or the aliases bash, sh, "
             "console)"),
        (35, "code block opened with ``` is never closed"),
    ]
    assert (27, "```python is not a step kind: the block is shown as an example, not run") in messages(
        problems, "warning")
    assert len(doc.steps) == 2 and 'print("a code sample' in doc.phases[0].text   # as complete as possible


@pytest.mark.parametrize("text, line, message", [
    ("---\ntitle: [unclosed\n---\n", 2, "the front matter is not valid YAML"),
    ("---\ntitle: x\n", 1, "the front matter starting with --- is never closed"),
    ("---\n- a list\n---\n", 2, "the front matter must be a mapping"),
    ("---\nkind: novel\n---\n", 2, "kind must be one of runbook, playbook, checklist, not 'novel'"),
    ("---\ntitle: a\ntitle: b\n---\n", 3, "front matter key 'title' is given twice"),
    ("\ufeff---\r\nkind: x\r\n---\r\n", 2, "kind must be one of"),
    ("---\nparameters:\n  a: {}\n  a: {type: int}\n---\n", 4, "parameter 'a' is declared twice"),
    ("---\nparameters:\n  - name: a\n  - name: a\n---\n", 4, "parameter 'a' is declared twice"),
    ("---\nparameters:\n  a: {type: float}\n---\n", 3, "parameter 'a': type must be one of string, int, choice, "
                                                       "bool, secret, not 'float'"),
    ("---\nparameters:\n  a: {colour: red}\n---\n", 3, "parameter 'a': unknown key 'colour'"),
    ("---\nparameters:\n  - type: int\n---\n", 3, "parameter name None must be letters"),
    ("---\nparameters:\n  a: {type: choice, choices: [x, y], default: z}\n---\n", 3,
     "parameter 'a': the default 'z' must be one of: x, y"),
    ("---\nparameters:\n  a: {type: bool, default: maybe}\n---\n", 3, "parameter 'a': the default 'maybe' must be "
                                                                      "true or false"),
    ("---\nparameters:\n  a: {default: \"x\\ny\"}\n---\n```sh\necho {{ a }}\n```\n", 3,
     "parameter 'a': the default must be a single line"),
    ("```shell\n\n```\n", 1, "the shell step is empty"),
    ("```wait\n```\n", 1, "a wait step needs a duration"),
    ("```shell on_failure=retry retries=99 auto=maybe\nx\n```\n", 1, "on_failure must be stop, continue or report"),
    ("```shell retries=99\nx\n```\n", 1, "retries='99' must be a whole number from 0 to 10"),
    ("```shell auto=maybe\nx\n```\n", 1, "auto='maybe' must be true or false"),
    ("```shell title=\"unbalanced\nx\n```\n", 1, "cannot read the code block's attributes"),
    ("```shell verbose\nx\n```\n", 1, "attribute 'verbose' must be written key=value"),
    ("```shell ttl=5m\nx\n```\n", 1, "attribute 'ttl' does not apply to shell steps"),
    ("```shell expect=\"(\"\nx\n```\n", 1, "expect='(' is not a valid regular expression"),
    ("```promql expect=\"about 3\"\nup\n```\n", 1, "expect='about 3' must be a comparison"),
    ("```http\nFETCH https://x.test/\n```\n", 2, "unknown HTTP method 'FETCH'"),
    ("```shell queue=\"a b\"\nx\n```\n", 1, "queue 'a b' may only hold letters"),
    ("~~~shell\nx\n```\n", 1, "code block opened with ~~~ is never closed"),
])
def test_bad_input_is_a_problem(text, line, message):
    doc, problems = parse(text, path="bad.md")
    assert any(p.line == line and p.message.startswith(message) and p.severity == "error" for p in problems), problems


@pytest.mark.parametrize("text", [
    "", "---", "---\n---", "```", "```shell", "## (", "- [ ] ", "\x00\x01binary\xff", "---\n: :\n---\n{{",
    "---\nparameters: 5\n---\n", "---\nparameters:\n  a: [1]\n---\n", "---\nparameters:\n  - 3\n---\n",
    "```http\n```", "```approval\n```", "---\nservices: {a: 1}\n---\n", "```shell\necho \"{{ x\n```\n",
])
def test_garbage_never_raises(text):
    doc, problems = parse(text)
    assert isinstance(doc, RunbookDocument) and all(p.line >= 0 for p in problems)


@pytest.mark.parametrize("body, reason", [
    ("echo '{{ name }}'", "inside single quotes"),
    ("echo '{\"replicas\": {{ n }}}'", "inside single quotes"),
    ("echo `echo {{ name }}`", "inside backticks"),
    ("echo ${name:-{{ name }}}", "inside ${...}"),
    ("echo $(( {{ name }} + 1 ))", "inside an arithmetic expression"),
    ("[[ -n {{ name }} ]]", "inside [[ ... ]]"),
    ("cat <<EOF\n{{ name }}\nEOF", "inside a here-document"),
    ("eval {{ name }}", "passed to eval, which runs its arguments as shell code"),
    ("bash -c {{ name }}", "passed to bash -c, which runs its argument as shell code"),
    ("echo ${{ name }}", "right after a $"),
])
def test_placeholder_where_its_reference_does_not_work_or_is_parsed_again_is_an_error(body, reason):
    _, problems = runbook(f"```shell\n{body}\n```\n")
    assert [m for _, m in messages(problems) if reason in m], problems


@pytest.mark.parametrize("body", [
    "echo {{ name }}", "echo --x={{ name }} a/{{ name }}", "echo \"node/\"{{ name }}", "echo $(cat {{ name }})",
    "echo \"$(cat {{ name }})\"", "echo '{\"replicas\": '{{ n }}'}'", "cat <<< {{ name }}", "# {{ name }} in a comment",
    "echo \"{{ name }}\"", "echo \"$(basename \"x\")\" \"{{ name }}\"", "echo \"node/{{ name }}\"",
    "echo {{ name }} # it's fine", "cat <<EOF\nx\nEOF\necho {{ name }}", "kubectl logs -c {{ name }}",
])
def test_placeholder_as_a_word_or_inside_double_quotes_is_fine(body):
    _, problems = runbook(f"```shell\n{body}\n```\n")
    assert messages(problems) == []


def test_unknown_code_sample_is_a_warning_and_stays_explanation():
    doc, problems = runbook("## P\n```python\nprint(1)\n```\n\n```text\nsample\n```\n\n```shell\nuptime\n```\n", front="a: b")
    assert messages(problems) == [(2, f"unknown front matter key 'a' (known: {', '.join(KEYS)})")]
    assert messages(problems, "warning") == [(5, "```python is not a step kind: the block is shown as an example, "
                                                 "not run")]
    assert len(doc.steps) == 1 and "print(1)" in doc.steps[0].explanation


def test_warnings_that_help_authors():
    _, problems = parse("---\nparameters:\n  a: {pattern: x}\n  b: {}\n---\n```shell\n$ ls {{ a }}\n```\n",
                        path="w.md")
    assert [m.split(":")[0] for _, m in messages(problems, "warning")] == [
        "parameter 'b' is declared but no step uses it", "lines starting with '$ ' look like a console transcript"]


@pytest.mark.parametrize("spec, error", [
    ("{}", "parameter 'a' is used in a shell step but has no pattern"),
    ("{type: secret}", "parameter 'a' is used in a shell step but has no pattern"),
    ("{type: secret, pattern: '[a-z]+', default: abc}", "parameter 'a': a secret cannot have a default"),
    ("{pattern: '[a-z]+'}", None), ("{type: secret, pattern: '[a-z]+'}", None), ("{type: int}", None),
    ("{type: bool}", None), ("{choices: [x, y]}", None),
])
def test_a_parameter_used_in_a_shell_step_needs_a_pattern_or_choices(spec, error):
    _, problems = parse(f"---\nparameters:\n  a: {spec}\n---\n```shell\necho {{{{ a }}}}\n```\n", path="p.md")
    assert [m.split(" (")[0].split(":")[0] if error and "default" not in error else m.split(" (")[0]
            for _, m in messages(problems)] == ([error] if error else [])


def test_an_imported_runbook_keeps_its_patterns():
    doc, problems = import_markdown("```shell\nkubectl -n $NAMESPACE get pods\n```\n", "x.md")
    assert problems == [] and doc.parameters[0].pattern == "^[A-Za-z0-9._:/-]+$"


def test_script_in_a_runbook_never_survives_rendering():
    doc, _ = parse_file("full.md")
    assert "<script>" in doc.description
    html = str(render(doc.description))
    assert "<script" not in html and "alert(" not in html.replace("&quot;", "")


# --- importing plain Markdown ------------------------------------------------------------------

def test_import_plain_markdown():
    doc, problems = import_markdown((DATA / "plain.md").read_text(), "kube/KubePodNotReady.md")
    assert problems == []
    assert (doc.slug, doc.title, doc.alerts, doc.imported) == (
        "kubepodnotready", "Kube Pod Not Ready", ["KubePodNotReady"], True)
    assert [(p.name, p.type, p.required, p.pattern) for p in doc.parameters] == [
        ("namespace", "string", True, "^[A-Za-z0-9._:/-]+$"), ("pod", "string", True, "^[A-Za-z0-9._:/-]+$")]
    assert [(s.kind, s.auto, s.phase) for s in doc.steps] == [("shell", False, 1)] * 2 + [("shell", False, 2)]
    assert doc.steps[0].body == "kubectl -n {{ namespace }} describe pod {{ pod }}"
    assert doc.steps[1].body == ("for p in $(kubectl -n {{ namespace }} get pods -o name); do echo \"$p\"; done\n"
                                 "kubectl get pods -A | awk '{print $NF}'")
    assert doc.steps[2].body == ("kubectl -n {{ namespace }} delete pod "
                                 "$(kubectl -n {{ namespace }} get pods -o name | head -1)")
    assert 'kube_pod_status_ready' in doc.phases[1].text      # promql samples stay text when importing


def test_import_fills_blanks_and_escapes_braces():
    text = ("# NodeDown\n\n```shell\n$ NODE='<value of instance label from alert>'\n$ oc debug \"node/$NODE\"\n"
            "$ kubectl get -o template --template='{{end}}' pods -n <my-ns> --field-selector=x==\"<my-ns>\"\n```\n")
    doc, problems = import_markdown(text, "x/NodeDown.md")
    assert problems == [] and doc.alerts == ["NodeDown"]
    assert doc.steps[0].body == ("oc debug \"node/\"{{ node }}\nkubectl get -o template --template='\\{{end}}' "
                                 "pods -n {{ my_ns }} --field-selector=x=={{ my_ns }}")
    assert [(p.name, p.description) for p in doc.parameters] == [
        ("node", "Value of instance label from alert."), ("my_ns", "Replaces <my-ns> in the original runbook.")]


def test_import_ignores_unknown_keys_and_closes_an_unclosed_block_at_the_next_section():
    text = "---\ntitle: x\nweight: 3\n---\n## Diagnosis\n```shell\n$ uptime\n\n## Mitigation\n\nTODO\n"
    doc, problems = import_markdown(text, "y.md")
    assert [p.severity for p in problems] == ["warning"]
    assert [p.title for p in doc.phases] == ["Diagnosis", "Mitigation"] and doc.steps[0].body == "uptime"


def test_limit_attributes_of_a_shell_step():
    doc, problems = parse("# Limits\n\n```shell memory=512m processes=64 file_size=10m\ntrue\n```\n")
    assert problems == []
    step = doc.steps[0]
    assert (step.memory, step.processes, step.file_size) == ("512m", 64, "10m")
    _, problems = parse("# Limits\n\n```shell memory=lots processes=0\ntrue\n```\n", path="x.md")
    assert [(p.line, p.severity) for p in problems] == [(3, "error"), (3, "error")]
    assert "memory='lots' is not a size" in problems[0].message and "processes='0'" in problems[1].message
    _, problems = parse("# Limits\n\n```http memory=1g\nGET https://example.com/\n```\n")
    assert "does not apply to http steps" in problems[0].message


# --- the shipped library reads as it did -------------------------------------------------------

def golden_reading(path):
    doc, problems = parse(path.read_text(), path=path.name, slug=path.stem)
    return {"document": doc.to_json(), "problems": [[p.line, p.severity, p.message] for p in problems]}


@pytest.mark.parametrize("path", sorted(p for p in LIBRARY.glob("*.md") if p.name != "README.md"),
                         ids=lambda p: p.stem)
def test_every_shipped_runbook_reads_as_the_line_scanner_read_it(path):
    """tests/runbooks/golden/ holds what the hand-written line scanner that
    markdown-it-py replaced (parser.py of e9ba5f0, with today's front matter keys
    and step attributes) made of every file: the same document, field for field
    (fields added since are not compared), and the same problems. After a
    deliberate change of a runbook: UPDATE_GOLDEN=1 on this test, then read the diff."""
    golden = GOLDEN / f"{path.stem}.json"
    new = json.loads(json.dumps(golden_reading(path)))
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(new, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    assert golden.exists(), f"no golden reading of {path.name}: run this test with UPDATE_GOLDEN=1"
    old = json.loads(golden.read_text())
    assert {key: new["document"].get(key) for key in old["document"]} == old["document"]
    assert new["problems"] == old["problems"]


# --- one reader: what a Markdown viewer shows is what runs ---------------------------------------

def test_only_what_commonmark_reads_as_a_fenced_block_is_a_step():
    doc, _ = runbook("Indented four spaces is code, shown, never run:\n\n    ```shell\n    echo shown\n    ```\n\n"
                     "> ```shell\n> echo {{ name }}\n> ```\n\n"
                     "- In a list item:\n\n  ```shell\n  echo listed\n  ```\n")
    assert [(s.body, s.line) for s in doc.steps] == [("echo {{ name }}", 13), ("echo listed", 19)]
    assert "    ```shell\n    echo shown\n    ```" in doc.description


def test_a_placeholder_is_reported_on_its_own_line_in_every_kind_of_block():
    _, problems = runbook("```console\n$ ls\noutput line\n$ echo {{ nope }}\n```\n\n"
                          "- [ ] Tell\n  {{ other }} about it\n")
    assert [line for line, m in messages(problems) if "is not a declared parameter" in m] == [10, 14]


def test_a_yaml_error_is_reported_on_its_own_line():
    _, problems = parse("---\ntitle: T\nowner: [platform\ntags: [x]\n---\n- [ ] x\n", path="y.md")
    assert messages(problems) == [(3, "the front matter is not valid YAML: did not find expected ',' or ']'")]


def test_an_unknown_http_method_is_reported_on_the_request_line():
    _, problems = parse("```http\n\nFETCH https://x.test/\n```\n", path="h.md")
    assert messages(problems) == [(3, "unknown HTTP method 'FETCH' (known: GET, HEAD, OPTIONS, POST, PUT, PATCH, "
                                      "DELETE)")]
