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
