"""The attributes of a step (`key=value` after the kind in a code block's
info string): which apply to which kind, their values checked and turned
into the normalised Step fields the engine uses (auto, timeout, ...)."""
import re

from .document import DRILL_EVENTS

DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|m|min|mins|h|hr|hrs)?\s*$", re.I)
DURATION_SECONDS = {None: 1, "ms": 0.001, "s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60,
                    "h": 3600, "hr": 3600, "hrs": 3600}
COMPARISON_RE = re.compile(r"^\s*(?:(<=|>=|==|!=|<|>)\s*[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:e[-+]?\d+)?|empty|nonempty)\s*$",
                           re.I)
HTTP_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
SAFE_HTTP_METHODS = ("GET", "HEAD", "OPTIONS")
QUEUE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
# marks=detected: a drill records the moment this step observed the event (drills.py).
COMMON_ATTRS = {"title", "timeout", "on_failure", "retries", "queue", "confirm", "auto", "parallel", "marks"}
STEP_ATTRS = {
    "shell": COMMON_ATTRS | {"expect", "memory", "processes", "file_size"},
    "http": COMMON_ATTRS | {"expect", "expect_status", "method"},
    "promql": COMMON_ATTRS | {"expect"},
    "wait": COMMON_ATTRS | {"expect", "for", "interval"},
    "approval": {"title", "ttl", "on_failure", "queue", "auto", "confirm", "parallel"},
}
ALL_ATTRS = set().union(*STEP_ATTRS.values())
# stop: the run stops; continue: it goes on; report: a diagnostic, whose unmet expectation is
# what it found (the step succeeds with expectation_met False) and whose error does not stop the run.
ON_FAILURE = ("stop", "continue", "report")
DEFAULT_TIMEOUT = 60.0
DEFAULT_WAIT_INTERVAL = 15.0
TITLE_LENGTH = 80
SIZE_RE = re.compile(r"^\s*\d+\s*[kmgt]?i?b?\s*$", re.I)   # the sandbox reads it: 512m, 2g, 100MiB
MAX_PROCESSES = 100_000


def parse_duration(value):
    """Seconds from 30, "30s", "5m", "2h", "250ms"; None when not a duration."""
    match = DURATION_RE.match(str(value))
    if not match:
        return None
    return float(match.group(1)) * DURATION_SECONDS[(match.group(2) or "").lower() or None]


def _short(text):
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= TITLE_LENGTH else line[:TITLE_LENGTH - 1] + "…"


def _bool(value):
    word = str(value).strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    return None


class StepAttributes:
    """Normalises one step at a time; problem(line, message[, severity])."""

    def __init__(self, problem, *, lenient=False):
        self.problem = problem
        self.lenient = lenient

    def normalise(self, step, line, body_line=None):
        """line: the fence's (where the attributes are); body_line: the body's first line."""
        self.body_line = body_line or line + 1
        attrs = step.attrs
        for key in attrs:
            if key not in ALL_ATTRS:
                self.problem(line, f"unknown attribute {key!r} (known: {', '.join(sorted(ALL_ATTRS))})")
            elif step.kind != "manual" and key not in STEP_ATTRS[step.kind]:
                self.problem(line, f"attribute {key!r} does not apply to {step.kind} steps")
        step.title = attrs.get("title") or _short(step.body) or f"{step.kind} step"
        step.timeout = self.duration_attr(attrs, "timeout", line) or DEFAULT_TIMEOUT
        step.on_failure = attrs.get("on_failure", "stop")
        if step.on_failure not in ON_FAILURE:
            self.problem(line, f"on_failure must be stop, continue or report, not {step.on_failure!r}")
            step.on_failure = "stop"
        step.retries = self.int_attr(attrs, "retries", line, 0, 10)
        step.queue = attrs.get("queue") or None
        if step.queue and not QUEUE_RE.match(step.queue):
            self.problem(line, f"queue {step.queue!r} may only hold letters, digits and . _ : -")
            step.queue = None
        step.confirm = bool(self.bool_attr(attrs, "confirm", line))
        step.parallel = bool(self.bool_attr(attrs, "parallel", line))
        auto = self.bool_attr(attrs, "auto", line)
        step.expect = attrs.get("expect")
        if "marks" in attrs and attrs["marks"] not in DRILL_EVENTS:
            self.problem(line, f"marks={attrs['marks']!r} must be one of {', '.join(DRILL_EVENTS)}")
        getattr(self, f"normalise_{step.kind}")(step, auto, line)
        if step.confirm:
            step.auto = False
        if not step.body.strip() and step.kind not in ("wait",):
            self.problem(line, f"the {step.kind} step is empty")

    def normalise_shell(self, step, auto, line):
        step.auto = bool(auto) and not self.lenient
        for key in ("memory", "file_size"):
            value = step.attrs.get(key)
            if value is not None and not SIZE_RE.match(value):
                self.problem(line, f"{key}={value!r} is not a size (write 512m, 2g or a number of bytes)")
            else:
                setattr(step, key, value)
        if "processes" in step.attrs:
            step.processes = self.int_attr(step.attrs, "processes", line, 1, MAX_PROCESSES)
        if step.expect is not None:
            try:
                re.compile(step.expect)
            except re.error as exc:
                self.problem(line, f"expect={step.expect!r} is not a valid regular expression: {exc}")

    def normalise_http(self, step, auto, line):
        first = _short(step.body).split()
        method = attrs_method = (step.attrs.get("method") or "").upper() or None
        if first and first[0].upper() in HTTP_METHODS:
            method = first[0].upper()
            if attrs_method and attrs_method != method:
                self.problem(line, f"method={attrs_method} contradicts the request line ({method})")
        elif first and first[0].isalpha() and first[0].isupper() and len(first) > 1:
            self.problem(self.body_line, f"unknown HTTP method {first[0]!r} (known: {', '.join(HTTP_METHODS)})")
        method = method or "GET"
        if method not in HTTP_METHODS:
            self.problem(line, f"unknown HTTP method {method!r} (known: {', '.join(HTTP_METHODS)})")
        step.method = method
        safe = method in SAFE_HTTP_METHODS
        if auto and not safe:
            self.problem(line, f"auto=true is ignored for {method}: only GET, HEAD and OPTIONS run without a click",
                         "warning")
        step.auto = safe and auto is not False
        if "expect_status" in step.attrs:
            step.expect_status = self.int_attr(step.attrs, "expect_status", line, 100, 599) or None

    def normalise_promql(self, step, auto, line):
        step.auto = auto is not False
        self.check_comparison(step, line)

    def normalise_wait(self, step, auto, line):
        step.auto = auto is not False
        step.hold_for = self.duration_attr(step.attrs, "for", line)
        body = step.body.strip()
        if body and parse_duration(body) is not None and "\n" not in body:
            step.hold_for = parse_duration(body)
            step.body = ""
        if not step.body:
            if step.hold_for is None:
                self.problem(line, "a wait step needs a duration: for=5m or a body like 30s")
                step.hold_for = 0.0
            if "title" not in step.attrs:
                step.title = f"Wait {body or step.attrs.get('for', '')}".strip()
            if "timeout" not in step.attrs:
                step.timeout = step.hold_for + DEFAULT_TIMEOUT
            return
        step.hold_for = step.hold_for or 0.0
        step.interval = self.duration_attr(step.attrs, "interval", line) or DEFAULT_WAIT_INTERVAL
        step.expect = step.expect or "nonempty"
        self.check_comparison(step, line)
        if "timeout" not in step.attrs:
            step.timeout = max(600.0, 2 * step.hold_for)

    def normalise_approval(self, step, auto, line):
        if auto:
            self.problem(line, "auto=true is ignored: an approval always waits for a commander", "warning")
        step.auto = False
        step.ttl = self.duration_attr(step.attrs, "ttl", line)

    def normalise_manual(self, step, auto, line):
        step.auto = False

    def check_comparison(self, step, line):
        if step.expect is not None and not COMPARISON_RE.match(step.expect):
            self.problem(line, f"expect={step.expect!r} must be a comparison like \"< 0.01\", \">= 1\", "
                               "\"== 0\", or empty / nonempty")

    def duration_attr(self, attrs, key, line):
        if key not in attrs:
            return None
        seconds = parse_duration(attrs[key])
        if seconds is None or seconds <= 0:
            self.problem(line, f"{key}={attrs[key]!r} is not a duration (write 30, 30s, 5m or 2h)")
            return None
        return seconds

    def int_attr(self, attrs, key, line, low, high):
        if key not in attrs:
            return low
        value = attrs[key]
        if not re.fullmatch(r"\d+", value) or not low <= int(value) <= high:
            self.problem(line, f"{key}={value!r} must be a whole number from {low} to {high}")
            return low
        return int(value)

    def bool_attr(self, attrs, key, line):
        if key not in attrs:
            return None
        value = _bool(attrs[key])
        if value is None:
            self.problem(line, f"{key}={attrs[key]!r} must be true or false")
        return value
