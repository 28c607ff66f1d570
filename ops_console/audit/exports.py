"""Streaming CSV and JSON downloads: rows are written as they are read from the
database (a server-side cursor), so a year of history never sits in memory."""
import csv
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponseBadRequest, StreamingHttpResponse


class _Echo:
    def write(self, value):
        return value


def csv_response(filename, header, rows):
    """rows: an iterable of sequences matching header."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # a BOM so spreadsheet programs read UTF-8
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(value) for value in row])

    return _download(lines(), "text/csv; charset=utf-8", filename)


def json_response(filename, rows, wrapper=None, items_key="items"):
    """rows: an iterable of dicts, written as a JSON array, or as the
    `items_key` array inside `wrapper` (a dict written around it) when given."""

    def chunks():
        if wrapper is not None:
            head = json.dumps({**wrapper, items_key: []}, cls=DjangoJSONEncoder)
            yield head[: -len("[]}")] + "[\n"
        else:
            yield "[\n"
        for n, row in enumerate(rows):
            yield ("," if n else "") + json.dumps(row, cls=DjangoJSONEncoder) + "\n"
        yield "]}\n" if wrapper is not None else "]\n"

    return _download(chunks(), "application/json", filename)


def attempt_data(attempt):
    """One kept attempt of a step as an export shows it: what ran, what it printed, when, who clicked."""
    return {"attempt": attempt.number, "status": attempt.status, "command": attempt.command,
            "output": attempt.output, "output_cut": attempt.output_cut, "exit_code": attempt.exit_code,
            "value": attempt.value, "expectation_met": attempt.expectation_met, "error": attempt.error,
            "started_at": attempt.started_at, "finished_at": attempt.finished_at, "hostname": attempt.hostname,
            "confirmed_by": attempt.confirmed_by.get_username() if attempt.confirmed_by_id else ""}


def step_data(step_run):
    """A step of a run with every attempt (step_run.attempt_records prefetched, oldest first)."""
    return {"step": step_run.index + 1, "kind": step_run.kind, "title": step_run.title, "status": step_run.status,
            "attempts": [attempt_data(a) for a in step_run.attempt_records.all()]}


def attempt_event_row(attempt, step_run, reference):
    """A kept attempt as a row of an incident's CSV (the columns of its timeline events)."""
    data = {"run": step_run.run_id, "step": step_run.index + 1, "title": step_run.title, **attempt_data(attempt)}
    exit_code = f", exit {attempt.exit_code}" if attempt.exit_code is not None else ""
    return {"incident": reference, "created_at": attempt.finished_at, "kind": "step.attempt",
            "actor": data["confirmed_by"],
            "message": f"run {step_run.run_id} step {step_run.index + 1} ({step_run.title}) attempt {attempt.number}: "
                       f"{attempt.status}{exit_code}",
            "data": data}


def bad_filter(form):
    """400 naming what is wrong with an export's filter, instead of an empty file."""
    problems = "; ".join(f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
                         for name, errors in form.errors.items())
    return HttpResponseBadRequest(f"The filter is not valid: {problems}\n", content_type="text/plain")


def _cell(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        # A cell a spreadsheet would run as a formula (CSV injection) is quoted as text.
        return "'" + value
    return "" if value is None else value


def _download(content, content_type, filename):
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
