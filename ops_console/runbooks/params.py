"""Runbook parameters: validating what a person typed into the start form, and
the only code that puts a value into a step body. A shell step never contains
a value: {{ name }} renders as a reference to the environment variable
PARAM_name, and the executor passes the values in the step's environment
(shell_environment), so the shell expands a value once and never parses it.
Other kinds (promql, http, text) get the value itself, escaped for the kind."""
import re
from urllib.parse import quote

from .shell_context import shell_contexts

# {{ name }}; a backslash before the braces (\{{) keeps them literal.
PLACEHOLDER_RE = re.compile(r"(?<!\\)\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# An escape or a placeholder, so one pass handles both and never touches a value.
TEMPLATE_RE = re.compile(r"(\\\{\{)|" + PLACEHOLDER_RE.pattern)
ENV_PREFIX = "PARAM_"
MASK = "****"
TRUE_WORDS = {"true", "on", "1", "yes"}
FALSE_WORDS = {"false", "off", "0", "no"}
TEXT_TYPES = ("string", "secret")     # a secret is a string that is masked wherever it is shown
INT_RE = re.compile(r"[+-]?\d+")
URL_START_RE = re.compile(r"\s*(?:[A-Za-z]+\s+)?")
# A parameter is a name, a host, a number: longer is a paste gone wrong, and every value is
# kept in the run, its audit entry and each step's environment.
MAX_VALUE_CHARS = 1000


class RenderError(ValueError):
    """A value that cannot be placed into a step body safely."""


def is_constrained(param):
    """True when the type alone limits a value to a number or a word
    (int, bool): it needs no pattern and is inert even where the shell
    evaluates arithmetic."""
    return param.type in ("int", "bool")


def env_name(name):
    """The environment variable that carries parameter `name` into a shell step."""
    return f"{ENV_PREFIX}{name}"


def placeholders(text):
    """Names of the {{ placeholders }} in text, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER_RE.findall(text or "")))


# --- validation --------------------------------------------------------------

def validate(parameters, raw):
    """Check the submitted values against the declared parameters.
    Returns (values, errors): typed values for every declared parameter, and
    {name: message} for everything wrong (an empty dict means valid)."""
    raw = dict(raw or {})
    values, errors = {}, {}
    declared = {p.name for p in parameters}
    for name in raw:
        if name not in declared:
            errors[name] = f"unknown parameter {name!r}"
    for param in parameters:
        value, error = _check_value(param, raw.get(param.name))
        if error:
            errors[param.name] = error
        else:
            values[param.name] = value
    return values, errors


def _is_blank(value):
    return value is None or (isinstance(value, str) and value.strip() == "")


def _check_value(param, value):
    if _is_blank(value):
        if param.default is not None:
            return param.default, None
        if param.required:
            return None, "is required"
        if param.type == "bool":
            return False, None
        if param.type in TEXT_TYPES:
            return "", None
        return None, "is required" if param.type == "int" else f"pick one of: {_choices_text(param)}"
    return convert(param, value)


def convert(param, value):
    """(typed value, None) or (None, message) for one non-blank value."""
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:  # before any pattern or int() reads it
        return None, f"must be at most {MAX_VALUE_CHARS:,} characters (it has {len(value):,})"
    if param.type == "bool":
        if isinstance(value, bool):
            return value, None
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True, None
        if word in FALSE_WORDS:
            return False, None
        return None, "must be true or false"
    if param.type == "int":
        if isinstance(value, bool):
            return None, "must be a whole number"
        if isinstance(value, int):
            return value, None
        text = str(value).strip()
        if not INT_RE.fullmatch(text):
            return None, "must be a whole number"
        return int(text), None
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    if "\x00" in text:
        return None, "must not contain a NUL character"
    if getattr(param, "shell", False) and ("\n" in text or "\r" in text):
        return None, "must be a single line (it is used in a shell command)"
    if param.type == "choice":
        for choice in param.choices:
            if str(choice) == text:
                return choice, None
        return None, f"must be one of: {_choices_text(param)}"
    if param.pattern:
        try:
            matched = re.fullmatch(param.pattern, text)
        except re.error:
            return None, f"has an invalid pattern {param.pattern!r} in the runbook"
        if not matched:
            return None, f"must match the pattern {param.pattern}"
    return text, None


def _choices_text(param):
    return ", ".join(str(c) for c in param.choices)


# --- rendering ---------------------------------------------------------------

def _substitute(body, values, encode):
    def replace(match):
        if match.group(1):
            return "{{"              # \{{ stays literal
        name = match.group(2)
        if name not in values:
            raise RenderError(f"no value for parameter {name!r}")
        return encode(values[name], match)

    return TEMPLATE_RE.sub(replace, body or "")


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _shell_text(name, values):
    """The text a shell step gets for `name`, refused when an environment
    variable cannot carry it or the parser promised a single line."""
    if name not in values:
        raise RenderError(f"no value for parameter {name!r}")
    text = _text(values[name])
    if "\x00" in text:
        raise RenderError("a NUL character cannot be passed to a shell")
    if "\n" in text or "\r" in text:
        raise RenderError(f"the value of {name!r} must be a single line in a shell step")
    return text


def render_shell(body, values):
    """The script with every {{ name }} replaced by a reference to PARAM_name:
    "${PARAM_name}" (one word) in plain words and inside $(...), ${PARAM_name}
    inside double quotes. The script never contains a value, so no value is
    ever parsed by the shell; the values travel in shell_environment()."""
    ctx = shell_contexts(body or "")

    def encode(value, match):
        _shell_text(match.group(2), values)
        reference = "${" + env_name(match.group(2)) + "}"
        return reference if ctx[match.start()] == "D" else f'"{reference}"'

    return _substitute(body, values, encode)


def shell_environment(step_or_body, values):
    """{"PARAM_name": text} for exactly the parameters a shell step uses
    (bool -> "true"/"false", int -> its digits): what the executor adds to
    the step's environment."""
    body = getattr(step_or_body, "body", step_or_body)
    return {env_name(name): _shell_text(name, values) for name in placeholders(body)}


def escape_promql(text):
    """For a value inside a double-quoted PromQL string (label matchers)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_text(body, values, kind="text"):
    """Bodies no shell sees. kind="promql" escapes values for PromQL strings;
    kind="http" percent-encodes values in the URL (except one that starts the
    URL: a whole base URL, which its pattern validates) and refuses line breaks
    in the request line and headers; anything else substitutes verbatim."""
    if kind == "promql":
        return _substitute(body, values, lambda value, match: escape_promql(_text(value)))
    if kind == "http":
        return _render_http(body, values)
    return _substitute(body, values, lambda value, match: _text(value))


def _render_http(body, values):
    lines = (body or "").split("\n")
    head_end = lines.index("") if "" in lines else len(lines)   # request line and headers

    def encode_url(value, match):
        text = _text(value)
        _refuse_line_breaks(text)
        if URL_START_RE.fullmatch(match.string[:match.start()]):
            return text         # a whole base URL: its pattern validates it
        return quote(text, safe="")

    def encode_header(value, match):
        text = _text(value)
        _refuse_line_breaks(text)
        return text

    out = [_substitute(lines[0], values, encode_url)] if lines else []
    out += [_substitute(line, values, encode_header) for line in lines[1:head_end]]
    out += [_substitute(line, values, lambda value, match: _text(value)) for line in lines[head_end:]]
    return "\n".join(out)


def _refuse_line_breaks(text):
    if "\n" in text or "\r" in text or "\x00" in text:
        raise RenderError("a line break cannot go into an HTTP request line or header")


# --- secrets -----------------------------------------------------------------

def masked(parameters, values):
    """The values with every `type: secret` one replaced by ****, for pages,
    exports and the audit log."""
    secret = {p.name for p in parameters if p.type == "secret"}
    return {name: (MASK if name in secret and value not in (None, "") else value) for name, value in values.items()}


def secret_values(parameters, values):
    """The non-empty values of secret parameters, to mask wherever they turn up
    in text (a step's output, a command as run)."""
    return [_text(values[p.name]) for p in parameters
            if p.type == "secret" and values.get(p.name) not in (None, "")]


def render(step, values):
    """The body of a step with the run's values in it, by the step's kind."""
    if step.kind == "shell":
        return render_shell(step.body, values)
    return render_text(step.body, values, kind="promql" if step.kind == "wait" else step.kind)  # wait: a query
