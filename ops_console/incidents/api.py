"""Token-authenticated intake endpoints: Alertmanager's webhook and generic
events. No session, no CSRF (a bearer token instead); JSON in, JSON out, and
every refusal (4xx) in the REST API's one error shape (ui.json_errors)."""
from datetime import timedelta

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ops_console.ui.access import public
from ops_console.ui.json_errors import error_response

from . import alert_intake, ingest
from .models import ApiToken

# Writing last_used_at on every delivery would add a write to the hot path.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def authenticate(request):
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    token = ApiToken.objects.authenticate(raw.strip())
    if token is not None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def read_unsized_body(request):
    """A body sent without Content-Length (chunked), up to one byte over the limit. Django
    reads only as far as Content-Length says, so nothing of it; the WSGI server (gunicorn)
    de-chunks it and ends the stream where the body ends, which it says with
    wsgi.input_terminated, so it is read from the server's stream."""
    stream, chunks, size = request.environ["wsgi.input"], [], 0
    while size <= ingest.MAX_BODY_BYTES:
        chunk = stream.read(ingest.MAX_BODY_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def answer(status, data):
    """The domain's (status, data) as a response. A refusal (4xx) in the error shape; the
    fields it had beside its message (the stored delivery's "payload" id) stay where a
    client already reads them, and are its details too. Successes and our own 503s
    (Alertmanager retries those; their "error" is a string, as the load shedder's) as they are."""
    if 400 <= status < 500 and isinstance(data.get("error"), str):
        kept = {key: value for key, value in data.items() if key != "error"}
        details = kept or ({"max_bytes": ingest.MAX_BODY_BYTES} if status == 413 else None)
        return error_response(status, data["error"], details, **kept)
    return JsonResponse(data, status=status)


def _endpoint(source, receive):
    @public
    @csrf_exempt
    def view(request):
        if request.method != "POST":  # not require_POST: its 405 has an empty body
            return error_response(405, f"{request.method} is not allowed here.", {"allowed": ["POST"]})
        token = authenticate(request)
        if token is None:
            return error_response(401, "missing or invalid bearer token: Authorization: Bearer <integration token>")
        remote_addr = request.META.get("REMOTE_ADDR")
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > ingest.MAX_BODY_BYTES:  # refuse before reading it all
            status, data = ingest.refuse_too_large(source, request.read(ingest.STORED_BODY_CHARS), length,
                                                   token=token, remote_addr=remote_addr)
        elif "Content-Length" not in request.headers and request.environ.get("wsgi.input_terminated"):
            body = read_unsized_body(request)
            if len(body) > ingest.MAX_BODY_BYTES:
                status, data = ingest.refuse_too_large(source, body, None, token=token, remote_addr=remote_addr)
            else:
                status, data = receive(body, token=token, remote_addr=remote_addr)
        else:
            status, data = receive(request.body, token=token, remote_addr=remote_addr)
        return answer(status, data)

    view.__name__ = f"{source}_intake"
    return view


alertmanager = _endpoint("alertmanager", alert_intake.receive)
events = _endpoint("events", ingest.receive_event)
