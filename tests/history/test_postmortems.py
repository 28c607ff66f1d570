"""Postmortems: a pre-filled draft, versioned saves by commanders, read-only for auditors, Markdown export."""
import datetime as dt

import pytest
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.history.models import Postmortem, PostmortemVersion
from ops_console.history.postmortems import StaleVersion, do_save_postmortem, draft

from . import builders


@pytest.fixture
def incident(make_user):
    inc = builders.incident("Checkout errors", "P1", summary="Payments failed for EU users.",
                            impact="12% of checkouts failed for 40 minutes.", ack_after=dt.timedelta(minutes=4),
                            resolve_after=dt.timedelta(minutes=40), services=[builders.service("checkout")],
                            events=[("note", "Rolled back release 42 | hotfix", 20)])
    builders.run(incident=inc, started_by=make_user("responder", username="rob"))
    return inc


def test_draft_is_prefilled_from_the_incident(incident):
    text = draft(incident)
    assert text.startswith(f"# Postmortem: {incident.reference} Checkout errors")
    assert "Payments failed for EU users." in text and "12% of checkouts failed" in text
    assert "Rolled back release 42 \\| hotfix" in text  # a table cell stays one cell
    assert "started by rob" in text and "/runs/" in text and "/audit/runs/" not in text
    assert "From 2026-03-02 09:30:00 UTC to 2026-03-02 11:10:00 UTC." in text  # 30 minutes either side
    assert "/services/checkout/?start=" in text


def test_each_save_is_a_new_version_with_an_audit_entry(incident, make_user):
    commander = make_user("commander")
    v1 = do_save_postmortem(incident, "# First", acting_user=commander)
    v2 = do_save_postmortem(incident, "# Second", acting_user=commander, base_number=1, note="root cause")
    assert (v1.number, v2.number) == (1, 2)
    assert PostmortemVersion.objects.get(pk=v1.pk).body == "# First"
    assert Postmortem.objects.get(incident=incident).latest == v2
    entry = AuditEntry.objects.filter(action="postmortem.saved").first()
    assert entry.after == {"version": 2, "chars": 8, "note": "root cause"} and entry.actor == commander


def test_a_save_over_a_newer_version_is_refused(incident, make_user):
    commander = make_user("commander")
    do_save_postmortem(incident, "# First", acting_user=commander)
    with pytest.raises(StaleVersion):
        do_save_postmortem(incident, "# Mine", acting_user=commander, base_number=0)
    assert PostmortemVersion.objects.count() == 1


def test_commander_edits_through_the_page(client_as, incident):
    client = client_as("commander")
    url = reverse("history:postmortem_edit", args=[incident.reference])
    form = client.get(url)
    assert "Payments failed for EU users." in form.content.decode()  # the draft
    response = client.post(url, {"body": "# Postmortem\n\nIt was DNS.", "base": "0"})
    assert response.status_code == 302
    page = client.get(reverse("history:postmortem", args=[incident.reference])).content.decode()
    assert "<p>It was DNS.</p>" in page and "Version 1" in page


def test_stale_edit_keeps_the_text_and_says_why(client_as, incident, make_user):
    do_save_postmortem(incident, "# Theirs", acting_user=make_user("commander"))
    response = client_as("commander").post(reverse("history:postmortem_edit", args=[incident.reference]),
                                           {"body": "# Mine, long text", "base": "0"})
    assert response.status_code == 409
    body = response.content.decode()
    assert "saved version 1" in body and "# Mine, long text" in body


def test_empty_postmortem_is_refused(client_as, incident):
    response = client_as("commander").post(reverse("history:postmortem_edit", args=[incident.reference]),
                                           {"body": "  ", "base": "0"})
    assert response.status_code == 400 and "empty" in response.content.decode()


def test_auditor_reads_versions_and_cannot_edit(client_as, incident, make_user):
    commander = make_user("commander")
    do_save_postmortem(incident, "# One <script>x()</script>", acting_user=commander)
    do_save_postmortem(incident, "# Two", acting_user=commander, base_number=1)
    client = client_as("auditor")
    latest = client.get(reverse("history:postmortem", args=[incident.reference])).content.decode()
    assert "Two" in latest and "/edit" not in latest
    old = client.get(reverse("history:postmortem_version", args=[incident.reference, 1])).content.decode()
    assert "older version" in old and "<script>x()" not in old
    assert client.post(reverse("history:postmortem_edit", args=[incident.reference]),
                       {"body": "# Auditor", "base": "2"}).status_code == 403
    assert PostmortemVersion.objects.count() == 2


def test_markdown_export(client_as, incident, make_user):
    client = client_as("auditor")
    response = client.get(reverse("history:postmortem_md", args=[incident.reference]))
    assert response["Content-Disposition"] == f'attachment; filename="{incident.reference}-postmortem-draft.md"'
    do_save_postmortem(incident, "# Saved", acting_user=make_user("commander"))
    response = client.get(reverse("history:postmortem_md", args=[incident.reference]))
    assert response.content == b"# Saved"
    assert response["Content-Type"].startswith("text/markdown")
