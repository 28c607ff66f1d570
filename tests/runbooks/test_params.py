"""Parameters: validating start-form values, and the rendering that keeps
every value out of a shell script (proved by running the result with bash and
the environment the executor would give it)."""
import os
import subprocess

import pytest

from ops_console.runbooks.document import Parameter, Step
from ops_console.runbooks.params import (RenderError, env_name, masked, render, render_shell, render_text,
                                         secret_values, shell_environment, validate)

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


@pytest.mark.parametrize("name, value", [("note", "x" * 1001), ("service", "a" * 100_000), ("replicas", "9" * 5000)])
def test_values_longer_than_the_limit_are_refused_before_anything_reads_them(name, value):
    _, errors = validate(PARAMETERS, {"service": "api", name: value})
    assert errors[name] == f"must be at most 1,000 characters (it has {len(value):,})"


def test_a_value_of_exactly_the_limit_is_accepted():
    values, errors = validate(PARAMETERS, {"service": "api", "note": "x" * 1000})
    assert errors == {} and values["note"] == "x" * 1000


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
    "${IFS}touch${IFS}pwned",
    "> pwned",
    "-rf /",
    "",
    "* ?",
    "x; touch pwned $(touch pwned2)",
]


def run_step(body, values, cwd):
    """What the ShellExecutor does: bash -c the rendered script, with the
    values only in the environment."""
    env = {"PATH": os.environ["PATH"], **shell_environment(body, values)}
    return subprocess.run(["bash", "-c", render_shell(body, values)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=10)


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("command, expected", [
    ("printf '%s' {{ v }}", "{}"),
    ("printf '%s' prefix-{{ v }}-suffix", "prefix-{}-suffix"),
    ("printf '%s' \"node/\"{{ v }}", "node/{}"),
    ("printf '%s' \"node/{{ v }}/x\"", "node/{}/x"),
    ("printf '%s' --flag={{ v }}", "--flag={}"),
    ("printf '%s' \"$(printf '%s' {{ v }})\"", "{}"),
    ("printf '%s' $(printf '%s' {{ v }} | wc -c | tr -d ' ')", None),
    ("for x in {{ v }}; do printf '%s' \"$x\"; done", "{}"),
])
def test_hostile_values_are_printed_literally_and_never_run(tmp_path, value, command, expected):
    result = run_step(command, {"v": value}, tmp_path)
    if expected is None:
        assert result.stdout == str(len(value.encode()))
    else:
        assert result.stdout == expected.format(value)
    assert list(tmp_path.iterdir()) == []


def test_the_script_never_contains_the_value():
    body = "kubectl -n {{ ns }} get pods \"app={{ app }}\" $(echo {{ ns }}) --replicas={{ n }}"
    values = {"ns": "prod; touch x", "app": "web$(id)", "n": 3}
    script = render_shell(body, values)
    assert script == ('kubectl -n "${PARAM_ns}" get pods "app=${PARAM_app}" $(echo "${PARAM_ns}") '
                      '--replicas="${PARAM_n}"')
    assert "prod" not in script and "web" not in script
    assert shell_environment(body, values) == {"PARAM_ns": "prod; touch x", "PARAM_app": "web$(id)", "PARAM_n": "3"}


def test_environment_holds_exactly_the_parameters_the_step_uses():
    step = Step(0, "shell", "t", "scale {{ n }} --dry-run={{ b }} '\\{{ literal }}'")
    values = {"n": 5, "b": False, "unused": "x", "literal": "y"}
    assert shell_environment(step, values) == {"PARAM_n": "5", "PARAM_b": "false"}
    assert env_name("Node_1") == "PARAM_Node_1"


def test_escaped_braces_stay_literal_and_values_are_never_unescaped():
    assert render_shell("echo '\\{{end}}' {{ a }}", {"a": "x y"}) == "echo '{{end}}' \"${PARAM_a}\""
    assert render_text("say {{ a }}", {"a": "\\{{ b }}"}) == "say \\{{ b }}"


@pytest.mark.parametrize("value, message", [("x\x00y", "NUL"), ("x\ny", "single line"), ("x\ry", "single line")])
def test_nul_and_line_breaks_are_refused(value, message):
    with pytest.raises(RenderError, match=message):
        render_shell("echo {{ a }}", {"a": value})
    with pytest.raises(RenderError, match=message):
        shell_environment("echo {{ a }}", {"a": value})


def test_missing_values_are_refused():
    with pytest.raises(RenderError, match="no value for parameter 'b'"):
        render_shell("echo {{ b }}", {"a": "x"})
    with pytest.raises(RenderError, match="no value for parameter 'b'"):
        shell_environment("echo {{ b }}", {"a": "x"})


# --- secrets ---------------------------------------------------------------------------------

def test_secrets_are_validated_like_strings_and_masked():
    params = [Parameter("token", type="secret", pattern=r"[a-z0-9]{4,}", required=True), Parameter("ns")]
    assert validate(params, {"token": "BAD!"})[1] == {"token": "must match the pattern [a-z0-9]{4,}"}
    values, errors = validate(params, {"token": "s3cr3t", "ns": "prod"})
    assert errors == {} and values == {"token": "s3cr3t", "ns": "prod"}
    assert masked(params, values) == {"token": "****", "ns": "prod"}
    assert secret_values(params, values) == ["s3cr3t"]
    assert secret_values(params, {"token": "", "ns": "x"}) == [] and masked(params, {"ns": "x"}) == {"ns": "x"}


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
    assert render(Step(0, "shell", "t", "echo {{ v }}"), {"v": "a b"}) == 'echo "${PARAM_v}"'
    assert render(Step(0, "manual", "t", "Tell {{ v }}"), {"v": "a b"}) == "Tell a b"
    assert render(Step(0, "promql", "t", 'up{a="{{ v }}"}'), {"v": 'x"'}) == 'up{a="x\\""}'
    assert render(Step(0, "wait", "t", 'up{a="{{ v }}"}'), {"v": 'x"'}) == 'up{a="x\\""}'
