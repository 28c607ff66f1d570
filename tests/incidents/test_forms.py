"""Form limits that show as errors: a note's length."""
from django.urls import reverse

from ops_console.incidents.forms import NOTE_MAX_CHARS
from ops_console.incidents.models import TimelineEvent

from .conftest import open_incident


def notes_url(incident):
    return reverse("incidents:notes", args=[incident.reference])


def test_a_note_over_the_limit_is_refused_with_an_error(client_as):
    incident = open_incident()
    client = client_as("responder")
    response = client.post(notes_url(incident), {"text": "x" * (NOTE_MAX_CHARS + 1)}, follow=True)
    assert response.status_code == 200
    assert f"at most {NOTE_MAX_CHARS} characters (it has {NOTE_MAX_CHARS + 1})" in response.content.decode()
    assert not TimelineEvent.objects.filter(incident=incident, kind="note").exists()


def test_a_note_of_the_limit_is_added_and_the_field_says_the_limit(client_as):
    incident = open_incident()
    client = client_as("responder")
    client.post(notes_url(incident), {"text": "x" * NOTE_MAX_CHARS})
    assert TimelineEvent.objects.get(incident=incident, kind="note").message == "x" * NOTE_MAX_CHARS
    page = client.get(incident.get_absolute_url()).content.decode()
    assert f'maxlength="{NOTE_MAX_CHARS}"' in page
