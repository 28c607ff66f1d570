"""Step executors: one small class per step kind, found by kind in a registry.
An executor runs one step on a worker and returns an Outcome; it raises
StepError for failures that are not the step's own verdict (Prometheus down,
a malformed request), saying whether a retry could help."""
import operator
import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass

import requests

from . import sandbox
from .document import Step
from .sandbox import mask

HEAD_BYTES = 64 * 1024   # output kept from the start of a step...
TAIL_BYTES = 64 * 1024   # ...and from its end; what lies between is counted, not kept
FLUSH_SECONDS = 0.5      # how often running output reaches the database (the page gets it live: live_output.py)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class StepError(Exception):
    """The step could not be carried out. permanent=False: a retry may help."""

    permanent = True


class RetryableError(StepError):
    permanent = False


@dataclass
class Outcome:
    ok: bool
    output: str = ""
    output_cut: int = 0
    exit_code: int | None = None
    value: object = None
    expectation_met: bool | None = None
    error: str = ""
    permanent: bool = False         # a failure no retry can fix
    cancelled: bool = False         # stopped because the run was cancelled or the lease lost


class StepContext:
    """What an executor gets: the step, the run's parameter values,
    progress(output, cut) -> False when it must stop (cancelled, lease lost),
    the values never to show (secret parameters; the executor adds credentials),
    credentials_used(queue, names), called before a step receives credentials,
    and live(hidden) -> a live_output.Publisher for the output as it is read (or None)."""

    def __init__(self, step: Step, values: dict, progress=None, *, hidden=(), credentials_used=None, live=None):
        self.step, self.values = step, values
        self.command = ""
        self.hidden = list(hidden)
        self._live = live
        self._progress = progress or (lambda output, cut, command: True)
        self._credentials_used = credentials_used or (lambda queue, names: None)

    def progress(self, output="", cut=0):
        return self._progress(mask(output, self.hidden), cut, mask(self.command, self.hidden))

    def credentials_used(self, queue, names):
        self._credentials_used(queue, names)

    def live_output(self):
        """The publisher for this attempt's output; it masks with the hidden values as they are then."""
        return self._live(lambda: self.hidden) if self._live else None


class BoundedOutput:
    """Keeps the first HEAD and the last TAIL bytes of a stream and counts the rest."""

    def __init__(self, head=HEAD_BYTES, tail=TAIL_BYTES):
        self.head_limit, self.tail_limit = head, tail
        self.head, self.tail = bytearray(), bytearray()
        self.cut = 0

    def write(self, data: bytes):
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > 2 * self.tail_limit:
            excess = len(self.tail) - self.tail_limit
            self.cut += excess
            del self.tail[:excess]

    def text(self):
        tail, cut = self.tail, self.cut
        if len(tail) > self.tail_limit:
            cut += len(tail) - self.tail_limit
            tail = tail[-self.tail_limit:]
        middle = f"\n[... {cut} bytes of output cut ...]\n".encode() if cut else b""
        return (bytes(self.head) + middle + bytes(tail)).decode("utf-8", errors="replace"), cut


_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
            "!=": operator.ne}


def compare_samples(values, expect):
    """Check a list of sample values against `< 0.01`, `empty`, `nonempty` ..."""
    expect = expect.strip()
    if expect == "empty":
        return not values
    if expect == "nonempty":
        return bool(values)
    match = re.fullmatch(r"(<=|>=|==|!=|<|>)\s*(-?[0-9.eE+-]+)", expect)
    if not match:
        raise StepError(f"cannot read expectation {expect!r}: use <, <=, >, >=, ==, != and a number, "
                        "or empty / nonempty")
    if not values:
        return False  # a comparison needs a sample; a missing series is not "fine"
    op, limit = _COMPARE[match.group(1)], float(match.group(2))
    return all(op(value, limit) for value in values)


EXECUTORS = {}


def register(cls):
    EXECUTORS[cls.kind] = cls()
    return cls


def get(kind):
    try:
        return EXECUTORS[kind]
    except KeyError:
        raise StepError(f"no executor for step kind {kind!r}") from None


class Executor:
    kind = ""
    needs_person = False   # approval and manual steps are done by people, not workers

    def execute(self, ctx: StepContext) -> Outcome:
        raise NotImplementedError


def render(step, values):
    """The step body with the run's values in it (a shell step gets references to PARAM_ variables)."""
    from . import params

    try:
        return params.render(step, values)
    except params.RenderError as exc:
        raise StepError(f"cannot fill in the parameters: {exc}") from exc


def _kill_group(process, grace=1.0):
    """TERM the step's whole process group, then KILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
            if sig == signal.SIGTERM:
                continue
        except subprocess.TimeoutExpired:
            continue


@register
class ShellExecutor(Executor):
    """bash in the step sandbox: the step user, a clean environment and a directory
    of its own, resource limits. Parameter values arrive only as PARAM_<name>
    environment variables; the script refers to them and never contains them."""

    kind = "shell"

    def execute(self, ctx):
        from . import params

        step = ctx.step
        try:
            ctx.command = params.render_shell(step.body, ctx.values)
            params_env = params.shell_environment(step.body, ctx.values)
        except params.RenderError as exc:
            raise StepError(f"cannot fill in the parameters: {exc}") from exc
        try:
            box = sandbox.Sandbox(step, params_env, hidden_values=ctx.hidden)
        except sandbox.SandboxError as exc:
            raise StepError(str(exc)) from exc
        ctx.hidden = box.hidden
        if box.credentials:
            ctx.credentials_used(sandbox.queue_name(step), box.credential_names)
        with box:
            outcome = self._run(ctx, box)
        return outcome

    def _run(self, ctx, box):
        step = ctx.step
        process = subprocess.Popen(box.argv(ctx.command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=box.env, cwd="/")
        out = BoundedOutput()
        live = ctx.live_output()
        fd = process.stdout.fileno()
        os.set_blocking(fd, False)
        started = time.monotonic()
        deadline, next_flush = started + step.timeout, started + FLUSH_SECONDS
        exited_at, stop_reason = None, ""
        try:
            while True:
                # Wake for output, or when a coalesced piece of live output is due.
                due = live.due_in(time.monotonic()) if live else None
                ready, _, _ = select.select([fd], [], [], 0.1 if due is None else min(0.1, due))
                eof = False
                if ready:
                    chunk = os.read(fd, 65536)
                    eof = not chunk
                    out.write(chunk)
                    if live:
                        live.feed(chunk)
                now = time.monotonic()
                if live:
                    live.pump(now)
                if process.poll() is not None:
                    exited_at = exited_at or now
                    # bash is done; a background child holding the pipe gets half a second.
                    if eof or now - exited_at > 0.5:
                        break
                if now >= deadline:
                    stop_reason = f"timed out after {step.timeout:g}s: the process group was killed"
                    break
                if now >= next_flush:
                    next_flush = now + FLUSH_SECONDS
                    if not ctx.progress(*out.text()):
                        stop_reason = "stopped: the run was cancelled"
                        break
        finally:
            _kill_group(process)
            process.stdout.close()
            if live:
                live.close()
        text, cut = out.text()
        text = mask(text, ctx.hidden)
        if stop_reason:
            return Outcome(ok=False, output=text, output_cut=cut, exit_code=process.returncode, error=stop_reason,
                           permanent=True, cancelled=stop_reason.startswith("stopped"))
        code = process.returncode
        if code != 0:
            limit = sandbox.limit_exceeded(box.limits, code, text)
            if limit:
                return Outcome(ok=False, output=text, output_cut=cut, exit_code=code, permanent=True,
                               error=f"{limit} (exit status {code})")
        if step.expect:
            met = re.search(step.expect, text, re.MULTILINE) is not None
            return Outcome(ok=met, output=text, output_cut=cut, exit_code=code, expectation_met=met,
                           error="" if met else f"output did not match {step.expect!r}")
        return Outcome(ok=code == 0, output=text, output_cut=cut, exit_code=code,
                       error="" if code == 0 else f"exited with status {code}")


def http_method(step):
    if step.method:
        return step.method.upper()
    first = (step.body or "").strip().splitlines()[:1]
    return first[0].split()[0].upper() if first and first[0].split() else "GET"


@register
class HttpExecutor(Executor):
    kind = "http"

    def execute(self, ctx):
        step = ctx.step
        text = render(step, ctx.values).strip("\n")
        ctx.command = text
        lines = text.splitlines()
        try:
            method, url = lines[0].split(None, 1)
        except (IndexError, ValueError):
            raise StepError("the first line of an http step must be `METHOD URL`") from None
        url = url.strip()
        if not re.match(r"https?://", url):
            raise StepError(f"only http:// and https:// URLs can be requested, not {url!r}")
        headers, body_lines, in_body = {}, [], False
        for line in lines[1:]:
            if not in_body and not line.strip():
                in_body = True
            elif not in_body and ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip()] = value.strip()
            else:
                in_body = True
                body_lines.append(line)
        body = "\n".join(body_lines).encode() or None
        try:
            response = requests.request(method.upper(), url, headers=headers, data=body, timeout=step.timeout,
                                        allow_redirects=False)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(f"{method.upper()} {url} failed: {type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            raise StepError(f"{method.upper()} {url} failed: {exc}") from exc
        out = BoundedOutput()
        out.write(f"HTTP {response.status_code} {response.reason}\n".encode())
        out.write(response.content)
        output, cut = out.text()
        wanted = step.expect_status
        status_ok = response.status_code == wanted if wanted else 200 <= response.status_code < 300
        text_ok = step.expect is None or step.expect in response.text
        met = status_ok and text_ok
        error = "" if met else (f"status {response.status_code}, expected {wanted or '2xx'}" if not status_ok
                                else f"response does not contain {step.expect!r}")
        return Outcome(ok=met, output=output, output_cut=cut, value=response.status_code,
                       expectation_met=met if (wanted or step.expect) else None, error=error)


def _query(expr, at=None):
    from ops_console.monitoring import prometheus

    try:
        return prometheus.query(expr, at=at)
    except prometheus.PrometheusUnavailable as exc:
        raise RetryableError(str(exc)) from exc
    except prometheus.PrometheusError as exc:
        raise StepError(str(exc)) from exc


def _format_samples(samples):
    if not samples:
        return "(no samples)\n"
    lines = []
    for sample in samples:
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
        lines.append(f"{{{labels}}} {sample.value:g}")
    return "\n".join(lines) + "\n"


@register
class PromqlExecutor(Executor):
    kind = "promql"

    def execute(self, ctx):
        step = ctx.step
        ctx.command = render(step, ctx.values).strip()
        samples = _query(ctx.command)
        values = [s.value for s in samples]
        output = _format_samples(samples)
        value = [{"labels": s.labels, "value": s.value} for s in samples]
        if not step.expect:
            return Outcome(ok=True, output=output, value=value)
        met = compare_samples(values, step.expect)
        return Outcome(ok=met, output=output, value=value, expectation_met=met,
                       error="" if met else f"expected every sample {step.expect}")


@register
class WaitExecutor(Executor):
    """Sleep a duration, or wait until a PromQL condition has held `for` a duration."""

    kind = "wait"
    TICK = 0.5

    def execute(self, ctx):
        step = ctx.step
        query = render(step, ctx.values).strip()
        started = time.monotonic()
        if query and step.expect:
            ctx.command = query
            return self._until(ctx, query, started)
        seconds = step.hold_for or 0
        ctx.command = f"sleep {seconds:g}s"
        if seconds > step.timeout:
            raise StepError(f"wait of {seconds:g}s is longer than the step timeout {step.timeout:g}s")
        if seconds and not self._sleep(ctx, seconds, f"waiting {seconds:g}s\n"):
            return Outcome(ok=False, error="stopped: the run was cancelled", cancelled=True)
        return Outcome(ok=True, output=f"waited {seconds:g}s\n")

    def _until(self, ctx, query, started):
        step = ctx.step
        hold, interval = step.hold_for or 0, step.interval or 1
        held_since, output = None, ""
        while True:
            now = time.monotonic()
            # At this moment, not the answer shared for a few seconds (prometheus.CACHE_SECONDS):
            # a drill's detection wait records when its condition first held, to its interval.
            values = [s.value for s in _query(query, at=time.time())]
            met = compare_samples(values, step.expect)
            held_since = (held_since or now) if met else None
            output = f"{values} {'meets' if met else 'does not meet'} {step.expect}\n"
            if met and now - held_since >= hold:
                return Outcome(ok=True, output=output, value=values, expectation_met=True)
            if now - started >= step.timeout:
                return Outcome(ok=False, output=output, value=values, expectation_met=False,
                               error=f"condition {step.expect} did not hold for {hold:g}s within {step.timeout:g}s")
            if not self._sleep(ctx, interval, output):
                return Outcome(ok=False, output=output, error="stopped: the run was cancelled", cancelled=True)

    def _sleep(self, ctx, seconds, output):
        """Sleep in short ticks, reporting progress (the heartbeat) -> False when told to stop."""
        until = time.monotonic() + seconds
        while True:
            if not ctx.progress(output):
                return False
            left = until - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(self.TICK, left))


class PersonStep(Executor):
    """Steps people do on the run page; a worker that receives one refuses it."""

    needs_person = True
    done_by = ""

    def execute(self, ctx):
        raise StepError(f"{self.done_by} on the run page, not by a worker")


@register
class ApprovalExecutor(PersonStep):
    kind = "approval"
    done_by = "an approval is given by a commander"


@register
class ManualExecutor(PersonStep):
    kind = "manual"
    done_by = "a manual step is confirmed by a person"
