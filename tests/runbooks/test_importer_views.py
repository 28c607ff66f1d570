import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ops_console.audit.models import AuditEntry
from ops_console.runbooks.models import Runbook

ROLES = ["responder", "commander", "auditor", "admin"]
PLAIN = "---\ntitle: Pod crash looping\nweight: 20\n---\n# KubePodCrashLooping\n\n```shell\n$ kubectl get pods\n```\n"


@pytest.mark.parametrize("role", ROLES)
def test_only_who_may_edit_runbooks_may_import(client_as, role):
    client = client_as(role)
    allowed = role == "admin"
    assert client.get("/runbooks/import/").status_code == (200 if allowed else 403)
    response = client.post("/runbooks/import/", {"source": PLAIN, "name": "KubePodCrashLooping.md"})
    assert response.status_code == (200 if allowed else 403)
    assert Runbook.objects.filter(alerts__contains=["KubePodCrashLooping"]).exists() == allowed
    assert (b'href="/runbooks/import/"' in client.get("/runbooks/").content) == allowed


def test_anonymous_is_sent_to_sign_in(client, db):
    assert client.get("/runbooks/import/").status_code == 302
    assert client.post("/runbooks/import/", {"source": PLAIN}).status_code == 302
    assert not Runbook.objects.exists()


def test_upload_files_and_see_each_result(client_as):
    client = client_as("admin")
    files = [SimpleUploadedFile("KubePodCrashLooping.md", PLAIN.encode()),
             SimpleUploadedFile("../../etc/Broken.md", b"# x\n\xff\n"),
             SimpleUploadedFile("_index.md", b"---\ntitle: section\n---\n")]
    response = client.post("/runbooks/import/", {"files": files})
    content = response.content.decode()
    assert response.status_code == 200
    assert 'created <a href="/runbooks/kubepodcrashlooping/">kubepodcrashlooping</a>' in content
    assert "Broken.md:2: error: not UTF-8 text (byte 0xff): not imported" in content and "../" not in content
    assert "skipped: nothing to import: only front matter" in content
    runbook = Runbook.objects.get()
    assert runbook.current_version.created_by == client.user and runbook.current_version.parsed().imported
    assert AuditEntry.objects.get(action="runbook.imported").actor == client.user
    again = client.post("/runbooks/import/", {"files": [SimpleUploadedFile("KubePodCrashLooping.md",
                                                                            PLAIN.encode())]})
    assert "unchanged" in again.content.decode() and runbook.versions.count() == 1


def test_nothing_to_import_says_so(client_as):
    response = client_as("admin").post("/runbooks/import/", {"source": "  "})
    assert response.status_code == 400 and b"Choose Markdown files or paste a runbook." in response.content


def test_the_post_needs_its_csrf_token(make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))
    assert client.post("/runbooks/import/", {"source": PLAIN, "name": "x.md"}).status_code == 403
    assert not Runbook.objects.exists()
    token = client.get("/runbooks/import/").context["csrf_token"]
    response = client.post("/runbooks/import/", {"source": PLAIN, "name": "x.md", "csrfmiddlewaretoken": token})
    assert response.status_code == 200 and Runbook.objects.filter(slug="x").exists()


def test_an_imported_runbook_is_shown_and_edited_as_an_import(client_as):
    client = client_as("admin")
    client.post("/runbooks/import/", {"source": PLAIN, "name": "KubePodCrashLooping.md"})
    page = client.get("/runbooks/kubepodcrashlooping/")
    assert page.status_code == 200 and b"kubectl get pods" in page.content
    edited = PLAIN.replace("weight: 20", "weight: 30") + "\nThen look at the events.\n"
    response = client.post("/runbooks/kubepodcrashlooping/edit/", {"source": edited}, follow=True)
    assert b"Saved as version 2." in response.content      # Hugo's weight is no error in the editor either
    runbook = Runbook.objects.get()
    doc = runbook.current_version.parsed()
    assert doc.imported and doc.metadata["weight"] == 30 and runbook.alerts == ["KubePodCrashLooping"]
