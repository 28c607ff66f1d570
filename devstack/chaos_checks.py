"""What the chaos run checks afterwards, in the database (plain SQL through psql)
against what it sent and what its receiver got: every accepted alert applied
once, every step once or lost-and-reported, every due level fired once,
every page delivered once per channel, the audit log intact, lateness and
settle time within bounds. Produces the table rows (check, expected, found, ok)."""
import math

LATENESS_P99_LIMIT = 5.0
SETTLE_LIMIT = 60.0
OVERDUE_GRACE = 5  # seconds a due level may wait for the next tick before it counts as missed

UNSETTLED = """
SELECT json_build_object(
  'queued_deliveries', (SELECT count(*) FROM incidents_webhookpayload WHERE outcome = 'queued'),
  'steps_in_flight', (SELECT count(*) FROM runbooks_steprun WHERE status IN ('queued', 'running')),
  'overdue_levels', (SELECT count(*) FROM escalation_scheduledlevel
                     WHERE status = 'pending' AND due_at < now() - interval '%(grace)s seconds'),
  'unsent_pages', (SELECT count(*) FROM escalation_delivery
                   WHERE status IN ('pending', 'sending', 'retry') AND created_at < now() - interval '10 seconds'))
""" % {"grace": OVERDUE_GRACE}
# After the beats stopped: what is still on its way.
IN_FLIGHT = """
SELECT (SELECT count(*) FROM escalation_delivery WHERE status IN ('pending', 'sending'))
     + (SELECT count(*) FROM runbooks_steprun WHERE status IN ('queued', 'running'))
     + (SELECT count(*) FROM incidents_webhookpayload WHERE outcome = 'queued')
"""

FACTS = """
SELECT json_build_object(
  'alerts', (SELECT json_object_agg(fingerprint, json_build_array(n, status)) FROM (
      SELECT fingerprint, count(*) AS n, max(status) AS status FROM incidents_alert GROUP BY fingerprint) a),
  'fired_events', (SELECT json_object_agg(fp, n) FROM (
      SELECT data->>'fingerprint' AS fp, count(*) AS n FROM incidents_timelineevent
      WHERE kind = 'alert_fired' GROUP BY 1) e),
  'resolved_events', (SELECT json_object_agg(fp, n) FROM (
      SELECT data->>'fingerprint' AS fp, count(*) AS n FROM incidents_timelineevent
      WHERE kind = 'alert_resolved' GROUP BY 1) e),
  'p1_incidents', (SELECT count(*) FROM incidents_incident i JOIN incidents_severity s ON s.id = i.severity_id
                   WHERE s.code = 'P1' AND i.source = 'alertmanager'),
  'steps', (SELECT json_agg(json_build_object('run', r.id, 'tag', r.parameters->>'tag', 'index', s."index",
                                              'status', s.status, 'attempts', s.attempts, 'error', left(s.error, 300),
                                              'output', right(s.output, 300)) ORDER BY r.id, s."index")
            FROM runbooks_steprun s JOIN runbooks_run r ON r.id = s.run_id),
  'levels_fired', (SELECT count(*) FROM escalation_scheduledlevel WHERE status = 'fired'),
  'levels_overdue', (SELECT count(*) FROM escalation_scheduledlevel
                     WHERE status = 'pending' AND due_at < to_timestamp(%(cutoff)s) - interval '%(grace)s seconds'),
  'levels_fired_by_audit', (SELECT count(*) FROM escalation_scheduledlevel WHERE fired_by = 'audit'),
  'lateness', (SELECT json_agg(json_build_array(extract(epoch FROM due_at), extract(epoch FROM fired_at - due_at)))
               FROM escalation_scheduledlevel WHERE status = 'fired'),
  'fired_without_page', (SELECT count(*) FROM escalation_scheduledlevel l
                         WHERE l.status = 'fired'
                           AND NOT EXISTS (SELECT 1 FROM escalation_page p WHERE p.step_id = l.id)),
  'duplicate_pages', (SELECT coalesce(sum(n - 1), 0) FROM (
      SELECT count(*) AS n FROM escalation_page p JOIN escalation_scheduledlevel l ON l.id = p.step_id
      GROUP BY l.incident_id, l.generation, l.level, l.round HAVING count(*) > 1) d),
  'pages', (SELECT count(*) FROM escalation_page),
  'deliveries', (SELECT json_object_agg(status, n) FROM (
      SELECT status, count(*) AS n FROM escalation_delivery GROUP BY status) d),
  'delivered_by_address', (SELECT json_object_agg(address, n) FROM (
      SELECT address, count(*) AS n FROM escalation_delivery WHERE status = 'delivered' GROUP BY address) d),
  'unfinished', (SELECT json_agg(json_build_object(
      'id', d.id, 'status', d.status, 'attempts', d.attempts, 'claimed_by', d.claimed_by,
      'created', to_char(d.created_at, 'HH24:MI:SS.MS'), 'claimed', to_char(d.claimed_at, 'HH24:MI:SS.MS'),
      'next', to_char(d.next_attempt_at, 'HH24:MI:SS.MS'), 'error', left(d.last_error, 120)) ORDER BY d.id)
      FROM escalation_delivery d WHERE d.status IN ('pending', 'sending', 'retry'))
)
"""


def facts_query(cutoff):
    """FACTS as of `cutoff` (a Unix time): the moment the beats were stopped, after which nothing comes due."""
    return FACTS % {"grace": OVERDUE_GRACE, "cutoff": float(cutoff)}


def percentile(values, share):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


class Table:
    def __init__(self):
        self.rows = []

    def check(self, name, expected, found, ok):
        """ok: True/False, or None for a row that only informs."""
        self.rows.append((name, str(expected), str(found), {True: "ok", False: "FAIL", None: "info"}[ok]))

    @property
    def failed(self):
        return [row for row in self.rows if row[3] == "FAIL"]

    def render(self):
        header = ("check", "expected", "found", "ok")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(4)]
        line = lambda row: "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()  # noqa: E731
        return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, self.rows)])


def alert_checks(table, facts, sends):
    firing = {a["fingerprint"] for s in sends if s.kind == "firing" and s.accepted for a in s.alerts}
    paging = {a["fingerprint"] for s in sends if s.kind == "firing" and s.accepted for a in s.alerts
              if a["labels"]["severity"] == "critical"}
    resolves = {a["fingerprint"] for s in sends if s.kind == "resolve" and s.accepted for a in s.alerts}
    given_up = [s for s in sends if not s.accepted and s.answers]
    table.check("alert deliveries answered 2xx", len(sends), sum(s.accepted for s in sends), not given_up)
    rows, fired, resolved = facts["alerts"] or {}, facts["fired_events"] or {}, facts["resolved_events"] or {}
    lost = [fp for fp in firing if fp not in rows]
    doubled = [fp for fp in firing if rows.get(fp, [0])[0] > 1 or fired.get(fp, 0) > 1]
    once = [fp for fp in firing if rows.get(fp, [0])[0] == 1 and fired.get(fp, 0) == 1]
    table.check("firing alerts applied exactly once", len(firing), len(once), len(once) == len(firing))
    table.check("  accepted alerts lost", 0, _few(lost), not lost)
    table.check("  alerts applied twice", 0, _few(doubled), not doubled)
    not_resolved = [fp for fp in resolves if rows.get(fp, [0, ""])[1] != "resolved" or resolved.get(fp, 0) != 1]
    table.check("resolves applied exactly once", len(resolves), len(resolves) - len(not_resolved), not not_resolved)
    table.check("P1 incidents opened", len(paging), facts["p1_incidents"], facts["p1_incidents"] == len(paging))
    html = sum(s.html_errors for s in sends)
    answers = [a for s in sends for a in s.answers]
    table.check("API 5xx answered as HTML (not JSON)", 0, f"{html} of {sum(_is5xx(a) for a in answers)} 5xx", None)


def _is5xx(answer):
    return isinstance(answer, int) and answer >= 500


def _few(items, n=3):
    items = sorted(items)
    if not items:
        return "0"
    return f"{len(items)} ({', '.join(map(str, items[:n]))}{', ...' if len(items) > n else ''})"


def step_checks(table, facts, marks, started_runs):
    steps = facts["steps"] or []
    counts = {}
    for line in marks:
        counts[tuple(line.split()[:2])] = counts.get(tuple(line.split()[:2]), 0) + 1
    started = [s for s in steps if s["attempts"] or counts.get((s["tag"], str(s["index"] + 1)))]
    once = [s for s in started if s["status"] == "succeeded" and counts.get((s["tag"], str(s["index"] + 1))) == 1
            and "done" in (s["output"] or "")]
    lost = [s for s in started if s["status"] == "failed" and (s["error"] or "").startswith("worker lost")]
    twice = [s for s in steps if counts.get((s["tag"], str(s["index"] + 1)), 0) > 1]
    unsettled = [s for s in steps if s["status"] in ("queued", "running")]
    other = [s for s in started if s not in once and s not in lost and s not in twice and s not in unsettled]
    table.check("runbook runs started", started_runs, len({s["run"] for s in steps}),
                len({s["run"] for s in steps}) == started_runs)
    table.check("steps ran once, or failed as lost", len(started), f"{len(once)} once + {len(lost)} lost",
                len(once) + len(lost) == len(started))
    table.check("  steps failed as lost (reported)", 0, _few([f"run {s['run']} step {s['index'] + 1}" for s in lost]),
                None)
    table.check("  steps that ran twice", 0, _few([f"{s['tag']} step {s['index'] + 1}" for s in twice]), not twice)
    table.check("  steps still queued/running", 0, _few([f"run {s['run']}" for s in unsettled]), not unsettled)
    table.check("  steps ended otherwise", 0, _few([f"run {s['run']} step {s['index'] + 1} {s['status']}: "
                                                    f"{(s['error'] or s['output'] or '')[:60]!r}" for s in other], 2),
                not other)


def escalation_checks(table, facts, load_began_at):
    """load_began_at: the wall-clock time the load began, to say when the latest level was due."""
    table.check("due escalation levels fired", facts["levels_fired"] + facts["levels_overdue"], facts["levels_fired"],
                facts["levels_overdue"] == 0)
    table.check("  levels fired late by the audit", 0, facts["levels_fired_by_audit"], None)
    table.check("  fired levels without a page", 0, facts["fired_without_page"], facts["fired_without_page"] == 0)
    table.check("duplicate pages per level", 0, facts["duplicate_pages"], facts["duplicate_pages"] == 0)
    pairs = facts["lateness"] or []
    lateness = [late for _, late in pairs]
    p50, p99 = percentile(lateness, 0.5), percentile(lateness, 0.99)
    worst = max(pairs, key=lambda pair: pair[1], default=(load_began_at, 0))
    table.check("escalation lateness p99 (fired_at - due_at)", f"<= {LATENESS_P99_LIMIT:g} s",
                f"{p99:.2f} s (p50 {p50:.2f}, max {worst[1]:.2f} due at +{worst[0] - load_began_at:.0f} s, "
                f"n={len(lateness)})", p99 <= LATENESS_P99_LIMIT)


def delivery_checks(table, facts, received, receiver_url):
    statuses = facts["deliveries"] or {}
    apprise_url = "json://" + receiver_url.removeprefix("http://")   # contact methods are Apprise URLs
    total = sum(statuses.values())
    delivered = statuses.get("delivered", 0)
    table.check("page deliveries delivered", total, f"{delivered} " + ", ".join(
        f"{k}={v}" for k, v in sorted(statuses.items()) if k != "delivered"), delivered == total)
    by_page = {}
    for request in received:
        data = request["json"] or {}
        by_page.setdefault((request["path"], data.get("ack_url")), []).append(request)
    distinct = len(by_page)
    repeats = [r for group in by_page.values() for r in group[1:]]
    keyed = [r for group in by_page.values() for r in group[1:] if r["key"] and r["key"] == group[0]["key"]]
    table.check("webhook pages received (distinct per channel)", delivered, distinct, distinct >= delivered)
    table.check("  pages received twice on one channel", 0,
                f"{len(repeats)} ({len(keyed)} with the same Idempotency-Key)", not repeats)
    missing = {address: n for address, n in (facts["delivered_by_address"] or {}).items()
               if n > sum(1 for (path, _) in by_page if apprise_url + path == address)}
    table.check("  delivered in the database, never received", 0, _few(missing), not missing)
