"""opsctl: incidents, on-call and runbook runs from a terminal, through the
console's REST API with a personal token. Standard library only (urllib), so it
runs wherever Python 3.11 does. Configure with OPSCTL_URL (the console's address)
and OPSCTL_TOKEN (a personal API token, Account → API tokens).

    opsctl incidents [--status open] [--severity P1] [--service S] [-q TEXT]
    opsctl show INC-4 | ack INC-4 | resolve INC-4
    opsctl oncall
    opsctl run SLUG [--param name=value ...] [--incident INC-4] [--no-follow]
    opsctl runs RUN_ID [--follow]

`run` and `runs --follow` print each step's output as the console receives it
and exit with the run's result: 0 succeeded, 1 failed, 2 cancelled."""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

EXIT = {"succeeded": 0, "failed": 1, "cancelled": 2}
POLL_SECONDS = 1.0


class ApiFailure(Exception):
    pass


class Console:
    def __init__(self, url, token, timeout=30):
        self.base = url.rstrip("/") + "/api/v1"
        self.token, self.timeout = token, timeout

    def request(self, method, path, body=None, params=None):
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v not in (None, "")})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ApiFailure(_error_text(exc)) from None
        except urllib.error.URLError as exc:
            raise ApiFailure(f"cannot reach {self.base}: {exc.reason}") from None

    def get(self, path, **params):
        return self.request("GET", path, params=params)

    def post(self, path, body=None):
        return self.request("POST", path, body=body if body is not None else {})


def _error_text(exc):
    """The API's {"error": {...}} as one line; anything else as the status."""
    try:
        error = json.loads(exc.read())["error"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {exc.code}"
    text = f"{error.get('message')} ({exc.code} {error.get('code')})"
    details = error.get("details")
    if isinstance(details, list):
        text += "".join(f"\n  {d.get('field')}: {d.get('reason')}" for d in details if isinstance(d, dict))
    elif details:
        text += f"\n  {json.dumps(details)}"
    return text


# --- commands ---------------------------------------------------------------

def incidents(console, args, out):
    page = console.get("/incidents", status=args.status, severity=args.severity, service=args.service, q=args.q,
                       limit=args.limit)
    for i in page["items"]:
        out.write(f"{i['reference']:<10} {i['severity']:<4} {i['status']:<13} {i['title']}\n")
    if not page["items"]:
        out.write("No incidents.\n")
    return 0


def show(console, args, out):
    i = console.get(f"/incidents/{args.reference}")
    out.write(f"{i['reference']}  {i['title']}\n  severity {i['severity']}, {i['status']}, detected "
              f"{i['detected_at']}\n  commander {i['commander'] or '-'}; services {', '.join(i['services']) or '-'}\n")
    if i["summary"]:
        out.write(f"\n{i['summary']}\n")
    events = console.get(f"/incidents/{args.reference}/timeline", limit=20)["items"]
    out.write("\nTimeline (newest first):\n")
    for e in events:
        out.write(f"  {e['created_at']}  {e['kind']:<16} {e['message'].splitlines()[0] if e['message'] else ''}\n")
    return 0


def ack(console, args, out):
    i = console.post(f"/incidents/{args.reference}/acknowledge")
    out.write(f"{i['reference']} is {i['status']}.\n")
    return 0


def resolve(console, args, out):
    i = console.post(f"/incidents/{args.reference}/status", {"status": "resolved"})
    out.write(f"{i['reference']} is {i['status']}.\n")
    return 0


def oncall(console, args, out):
    for row in console.get("/oncall")["roles"]:
        until = f" until {row['now_until']}" if row["now_until"] else ""
        nxt = f"; next {row['next']} from {row['next_from']}" if row["next"] else ""
        out.write(f"{row['role_name']}: {row['now'] or 'nobody'}{until}{nxt}\n")
    return 0


def _parameters(pairs):
    values = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ApiFailure(f"--param {pair!r}: expected name=value")
        values[name] = value
    return values


def run(console, args, out):
    body = {"parameters": _parameters(args.param)}
    if args.incident:
        body["incident"] = args.incident
    started = console.post(f"/runbooks/{args.slug}/runs", body)
    out.write(f"Run {started['id']} of {started['runbook']} v{started['version']} started.\n")
    if not args.follow:
        return 0
    return follow(console, started["id"], out)


def runs(console, args, out):
    if args.follow:
        return follow(console, args.run_id, out)
    r = console.get(f"/runs/{args.run_id}")
    out.write(f"Run {r['id']} of {r['runbook']} v{r['version']}: {r['status']}\n")
    for s in r["steps"]:
        out.write(f"  {s['number']:>2}. {s['status']:<10} {s['title']}\n")
    return EXIT.get(r["status"], 0) if r["finished"] else 0


def follow(console, run_id, out, poll=POLL_SECONDS, sleep=time.sleep):
    """Print each step's status changes and new output until the run finishes;
    its result as the exit status."""
    shown = {}  # step number -> (status, attempts, characters of output printed)
    while True:
        r = console.get(f"/runs/{run_id}")
        for s in r["steps"]:
            status, attempts, printed = shown.get(s["number"], (None, None, 0))
            if attempts is not None and s["attempts"] != attempts:
                printed = 0  # a new attempt: its output starts again
            if s["status"] != status and not (status is None and s["status"] == "pending"):
                out.write(f"== step {s['number']}: {s['title']} [{s['status']}]\n")
                if s["status"] == "waiting":
                    out.write(f"   waits for a person: {console.base[:-len('/api/v1')]}{r['url']}\n")
            text = s["output"] or ""
            if len(text) < printed:  # the stored output was cut to head and tail
                out.write("   [… output cut …]\n")
                printed = 0
            if len(text) > printed:
                out.write(text[printed:])
                if not text.endswith("\n") and s["finished_at"]:
                    out.write("\n")
                printed = len(text)
            if s["status"] != status and s["finished_at"] and s["error"]:
                out.write(f"   {s['error']}\n")
            shown[s["number"]] = (s["status"], s["attempts"], printed)
        out.flush()
        if r["finished"]:
            out.write(f"Run {r['id']} {r['status']}.{' ' + r['error'] if r['error'] else ''}\n")
            return EXIT.get(r["status"], 1)
        sleep(poll)


def parser():
    p = argparse.ArgumentParser(prog="opsctl", description="Ops Console from a terminal "
                                "(OPSCTL_URL, OPSCTL_TOKEN).")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("incidents", help="list incidents (open ones unless --status)")
    i.add_argument("--status", default="open")
    i.add_argument("--severity")
    i.add_argument("--service")
    i.add_argument("-q", help="words in the title, summary or timeline")
    i.add_argument("--limit", type=int, default=50)
    i.set_defaults(func=incidents)
    for name, func, text in (("show", show, "an incident and its timeline"), ("ack", ack, "acknowledge"),
                             ("resolve", resolve, "resolve")):
        c = sub.add_parser(name, help=text)
        c.add_argument("reference", help="e.g. INC-4")
        c.set_defaults(func=func)
    sub.add_parser("oncall", help="who is on call now and next").set_defaults(func=oncall)
    r = sub.add_parser("run", help="start a runbook and follow its output")
    r.add_argument("slug")
    r.add_argument("--param", action="append", metavar="NAME=VALUE")
    r.add_argument("--incident", help="the incident the run is for, e.g. INC-4")
    r.add_argument("--no-follow", dest="follow", action="store_false")
    r.set_defaults(func=run)
    s = sub.add_parser("runs", help="show a run (--follow: until it finishes)")
    s.add_argument("run_id", type=int)
    s.add_argument("--follow", action="store_true")
    s.set_defaults(func=runs)
    return p


def main(argv=None, out=None, environ=None):
    environ = os.environ if environ is None else environ
    out = out or sys.stdout
    args = parser().parse_args(argv)
    token = environ.get("OPSCTL_TOKEN", "")
    if not token:
        sys.stderr.write("opsctl: set OPSCTL_TOKEN to a personal API token (Account → API tokens).\n")
        return 3
    console = Console(environ.get("OPSCTL_URL", "http://localhost:8000"), token)
    try:
        return args.func(console, args, out)
    except ApiFailure as exc:
        sys.stderr.write(f"opsctl: {exc}\n")
        return 3
    except KeyboardInterrupt:
        return 130
