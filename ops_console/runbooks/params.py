"""Runbook parameters: validating what a person typed into the start form, and
the only code that puts a value into a step body. In a shell step a value is
always one shell-quoted word; the parser refuses placeholders where quoting
would not protect it (inside quotes, here-documents, arithmetic, eval)."""
import re
import shlex
from urllib.parse import quote

# {{ name }}; a backslash before the braces (\{{) keeps them literal.
PLACEHOLDER_RE = re.compile(r"(?<!\\)\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
ESCAPED_BRACES = "\\{{"
TRUE_WORDS = {"true", "on", "1", "yes"}
FALSE_WORDS = {"false", "off", "0", "no"}
INT_RE = re.compile(r"[+-]?\d+")
SAFE_WORD_RE = re.compile(r"[\w@%+=:,./-]+", re.ASCII)
URL_START_RE = re.compile(r"\s*(?:[A-Za-z]+\s+)?")


class RenderError(ValueError):
    """A value that cannot be placed into a step body safely."""


def quotes_to_itself(param):
    """True when every value the parameter accepts is a number or a plain word
    that shlex.quote leaves unchanged, so it is inert in any shell context."""
    if param.type in ("int", "bool"):
        return True
    return param.type == "choice" and bool(param.choices) and all(
        SAFE_WORD_RE.fullmatch(_text(choice)) for choice in param.choices)


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
        if param.type == "string":
            return "", None
        return None, "is required" if param.type == "int" else f"pick one of: {_choices_text(param)}"
    return convert(param, value)


def convert(param, value):
    """(typed value, None) or (None, message) for one non-blank value."""
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
        name = match.group(1)
        if name not in values:
            raise RenderError(f"no value for parameter {name!r}")
        return encode(values[name], match)

    return PLACEHOLDER_RE.sub(replace, body or "").replace(ESCAPED_BRACES, "{{")


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_shell(body, values):
    """The command with every {{ name }} replaced by shlex.quote(value): one
    literal word whatever the value holds. The only way a value reaches a shell."""

    def encode(value, match):
        text = _text(value)
        if "\x00" in text:
            raise RenderError("a NUL character cannot be passed to a shell")
        return shlex.quote(text)

    return _substitute(body, values, encode)


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


def render(step, values):
    """The body of a step with the run's values in it, by the step's kind."""
    if step.kind == "shell":
        return render_shell(step.body, values)
    return render_text(step.body, values, kind="promql" if step.kind == "wait" else step.kind)  # wait: a query
