"""Parameters: validating start-form values, and the rendering that is the
only way a value reaches a shell (proved by running the result with bash)."""
import subprocess

import pytest

from ops_console.runbooks.document import Parameter, Step
from ops_console.runbooks.params import RenderError, render, render_shell, render_text, validate
from ops_console.runbooks.shell_context import shell_contexts, unsafe_placeholders

PARAMETERS = [
    Parameter("service", pattern=r"^[a-z][a-z0-9-]*$", required=True, shell=True),
    Parameter("replicas", type="int", default=3),
    Parameter("dry_run", type="bool"),
    Parameter("region", type="choice", choices=["eu", "us"], default="eu"),
    Parameter("note", type="string"),
]


# --- validate ----------------------------------------------------------------

def test_valid_values_are_typed_and_defaults_filled_in():
    values, errors = validate(PARAMETERS, {"service": " api ", "replicas": "+5", "dry_run": "on"})
    assert errors == {}
    assert values == {"service": "api", "replicas": 5, "dry_run": True, "region": "eu", "note": ""}


@pytest.mark.parametrize("raw, name, message", [
    ({}, "service", "is required"),
    ({"service": "   "}, "service", "is required"),
    ({"service": "Api"}, "service", "must match the pattern ^[a-z][a-z0-9-]*$"),
    ({"service": "api; rm -rf /"}, "service", "must match the pattern ^[a-z][a-z0-9-]*$"),
    ({"service": "api", "replicas": "three"}, "replicas", "must be a whole number"),
    ({"service": "api", "replicas": "3.5"}, "replicas", "must be a whole number"),
    ({"service": "api", "replicas": True}, "replicas", "must be a whole number"),
    ({"service": "api", "dry_run": "maybe"}, "dry_run", "must be true or false"),
    ({"service": "api", "region": "mars"}, "region", "must be one of: eu, us"),
    ({"service": "api", "colour": "red"}, "colour", "unknown parameter 'colour'"),
    ({"service": "api", "note": "a\x00b"}, "note", "must not contain a NUL character"),
])
def test_invalid_values_get_a_message(raw, name, message):
    _, errors = validate(PARAMETERS, raw)
    assert errors[name] == message


@pytest.mark.parametrize("word, expected", [("true", True), ("ON", True), ("1", True), ("false", False),
                                            ("off", False), ("0", False), (False, False)])
def test_bools(word, expected):
    assert validate([Parameter("b", type="bool")], {"b": word})[0] == {"b": expected}


def test_line_breaks_are_refused_only_for_parameters_used_in_shell_steps():
    shell_param, text_param = Parameter("a", shell=True), Parameter("b")
    _, errors = validate([shell_param, text_param], {"a": "x\ny", "b": "x\ny"})
    assert errors == {"a": "must be a single line (it is used in a shell command)"}


def test_optional_without_default():
    params = [Parameter("n", type="int"), Parameter("c", type="choice", choices=["x"]), Parameter("b", type="bool")]
    values, errors = validate(params, {})
    assert errors == {"n": "is required", "c": "pick one of: x"} and values == {"b": False}


# --- the shell never runs a value ------------------------------------------------------

HOSTILE = [
    "; touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "x && touch pwned",
    "x || touch pwned",
    "x | touch pwned",
    "'; touch pwned; '",
    '"; touch pwned; "',
    "it's \"quoted\" \\ ",
    "line one\ntouch pwned",
    "${IFS}touch${IFS}pwned",
    "> pwned",
    "-rf /",
    "",
    "* ?",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("command", [
    "printf '%s' {{ v }}",
    "printf '%s' prefix-{{ v }}-suffix",
    "printf '%s' \"node/\"{{ v }}",
    "printf '%s' \"$(printf '%s' {{ v }})\"",
    "for x in {{ v }}; do printf '%s' \"$x\"; done",
])
def test_hostile_values_are_printed_literally_and_never_run(tmp_path, value, command):
    rendered = render_shell(command, {"v": value})
    result = subprocess.run(["bash", "-c", rendered], cwd=tmp_path, capture_output=True, text=True, timeout=10)
    expected = value
    if "prefix-" in command:
        expected = f"prefix-{value}-suffix"
    elif "node/" in command:
        expected = f"node/{value}"
    elif "$(printf" in command:
        expected = value.rstrip("\n")   # command substitution drops trailing newlines, nothing else
    assert result.stdout == expected
    assert not (tmp_path / "pwned").exists()
    assert list(tmp_path.iterdir()) == []


def test_values_are_rendered_by_type():
    assert render_shell("scale --replicas={{ n }} --dry-run={{ b }}", {"n": 5, "b": False}) == (
        "scale --replicas=5 --dry-run=false")
    assert render_shell("echo '\\{{end}}' {{ a }}", {"a": "x y"}) == "echo '{{end}}' 'x y'"


def test_nul_and_missing_values_are_refused():
    with pytest.raises(RenderError, match="NUL"):
        render_shell("echo {{ a }}", {"a": "x\x00y"})
    with pytest.raises(RenderError, match="no value for parameter 'b'"):
        render_shell("echo {{ b }}", {"a": "x"})


# --- text bodies ---------------------------------------------------------------------------

def test_promql_values_are_escaped_inside_label_strings():
    query = render_text('up{job="{{ job }}"}', {"job": 'a"} or vector(1) or {x="\\'}, kind="promql")
    assert query == 'up{job="a\\"} or vector(1) or {x=\\"\\\\"}'


def test_http_url_values_are_percent_encoded_but_a_leading_base_url_is_kept():
    body = "GET {{ base }}/api/{{ id }}?q={{ q }}\nX-Team: {{ team }}\n\n{\"q\": \"{{ q }}\"}"
    values = {"base": "https://x.test", "id": "../admin", "q": "a b&c=d", "team": "ops"}
    assert render_text(body, values, kind="http") == (
        "GET https://x.test/api/..%2Fadmin?q=a%20b%26c%3Dd\nX-Team: ops\n\n{\"q\": \"a b&c=d\"}")


@pytest.mark.parametrize("body", ["GET https://x.test/{{ v }}", "GET https://x.test/\nX-A: {{ v }}"])
def test_http_refuses_line_breaks_in_request_line_and_headers(body):
    with pytest.raises(RenderError, match="line break"):
        render_text(body, {"v": "a\r\nX-Injected: 1"}, kind="http")


def test_render_dispatches_on_the_step_kind():
    assert render(Step(0, "shell", "t", "echo {{ v }}"), {"v": "a b"}) == "echo 'a b'"
    assert render(Step(0, "manual", "t", "Tell {{ v }}"), {"v": "a b"}) == "Tell a b"
    assert render(Step(0, "promql", "t", 'up{a="{{ v }}"}'), {"v": 'x"'}) == 'up{a="x\\""}'
    assert render(Step(0, "wait", "t", 'up{a="{{ v }}"}'), {"v": 'x"'}) == 'up{a="x\\""}'


# --- the quoting-context scanner --------------------------------------------------------------

def test_shell_contexts():
    body = "a 'b' \"c $(d 'e') f\" `g` ${h} # i"
    ctx = "".join(shell_contexts(body))
    assert ctx[body.index("b")] == "S" and ctx[body.index("c")] == "D" and ctx[body.index("d")] == "C"
    assert ctx[body.index("e")] == "S" and ctx[body.index("f")] == "D" and ctx[body.index("g")] == "B"
    assert ctx[body.index("h")] == "P" and ctx[body.index("i")] == "#" and ctx[0] == "N"


def test_unsafe_placeholders_report_their_line():
    body = "echo {{ a }}\necho \"{{ b }}\"\ncat <<-'END'\n\t{{ c }}\n\tEND\necho {{ d }}"
    assert [(name, line) for name, line, _ in unsafe_placeholders(body)] == [("b", 1), ("c", 3)]
