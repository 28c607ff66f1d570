"""URLs from outside become links only for http(s) (and paths on this site): alert
generatorURLs, Prometheus runbook_url annotations, service links, Markdown in notes
and runbooks. Anything else is shown as text."""
import html
from html.parser import HTMLParser

import pytest
from django.template import Context, Template
from django.urls import reverse

from ops_console.incidents.models import Incident
from ops_console.monitoring.models import Service
from ops_console.ui.links import web_url
from tests.incidents.conftest import AM_URL, am_alert, am_payload, api_token, open_incident, post_json  # noqa: F401
from tests.runbooks.builders import make_doc, make_version, shell

from .conftest import HOSTILE_URLS, SAFE_URL

pytestmark = pytest.mark.django_db
HOSTILE = ["javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
           "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "//evil.example/", "/\\evil.example/",
           "https:evil.example", "runbooks/relative", "#top", ""]


class Hrefs(HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.found = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.found += [value for name, value in attrs if name in ("href", "src", "action", "formaction")]


def hrefs(text):
    return Hrefs(text).found


def assert_only_web_links(page):
    for href in hrefs(page):
        assert href.startswith(("http://", "https://", "/", "#", "?")) and not href.startswith(("//", "/\\")), href


@pytest.mark.parametrize("url", HOSTILE)
def test_anything_but_http_https_or_a_local_path_is_no_web_url(url):
    assert web_url(url) is None


@pytest.mark.parametrize("url", ["https://wiki.example/a?b=c#d", "http://10.0.0.1:9090/graph", "HTTPS://X.EXAMPLE/",
                                 "/runbooks/disk-full/"])
def test_web_urls_pass(url):
    assert web_url(url) == url


def test_the_link_filter_shows_a_hostile_url_as_text():
    template = Template('{% load ui %}{{ url|link:"runbook" }}')
    hostile = template.render(Context({"url": "javascript:alert('x')"}))
    assert "<a" not in hostile and "href" not in hostile
    assert html.escape("javascript:alert('x')") in hostile and 'class="unsafe-url"' in hostile
    safe = template.render(Context({"url": "https://wiki.example/"}))
    assert safe == '<a href="https://wiki.example/" rel="noopener noreferrer">runbook</a>'


def test_runbook_urls_of_prometheus_alerts_on_the_services_page(client_as, hostile_prometheus):
    client = client_as("responder")
    for path in (reverse("monitoring:index"), reverse("monitoring:alerts")):
        page = client.get(path).content.decode()
        assert page.count('data-testid="alert-row"') == len(HOSTILE_URLS) + 1, path
        assert_only_web_links(page)
        for url in HOSTILE_URLS.values():
            assert f'<span class="unsafe-url" title="Not a web address, so not a link">{html.escape(url)}</span>' \
                in page, (path, url)
        assert f'<a href="{SAFE_URL}" rel="noopener noreferrer">runbook</a>' in page


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", "data:text/html,hi", "vbscript:msgbox(1)"])
def test_generator_url_of_an_alert_on_the_incident_page(client_as, post_json, url):  # noqa: F811
    alert = am_alert()
    alert["generatorURL"] = url
    assert post_json(AM_URL, am_payload(alert)).status_code == 200
    page = client_as("responder").get(Incident.objects.get().get_absolute_url()).content.decode()
    assert_only_web_links(page)
    assert html.escape(url) in page


def test_a_prometheus_generator_url_is_a_link(client_as, post_json):  # noqa: F811
    assert post_json(AM_URL, am_payload(am_alert())).status_code == 200
    page = client_as("responder").get(Incident.objects.get().get_absolute_url()).content.decode()
    assert 'href="http://prometheus:9090/graph?g0.expr=up"' in page


def test_service_links(client_as):
    Service.objects.create(slug="api", name="API", links=[
        {"title": "Evil", "url": "javascript:alert(1)"}, {"title": "Data", "url": "data:text/html,hi"},
        {"title": "VB", "url": "vbscript:msgbox(1)"}, {"title": "Dashboard", "url": "https://grafana.example/d/1"},
    ])
    page = client_as("responder").get(reverse("monitoring:detail", args=["api"])).content.decode()
    assert_only_web_links(page)
    for url in ("javascript:alert(1)", "data:text/html,hi", "vbscript:msgbox(1)"):
        assert html.escape(url) in page
    assert '<a href="https://grafana.example/d/1" rel="noopener noreferrer">Dashboard</a>' in page


MARKDOWN = ("[js](javascript:alert(document.cookie)) [data](data:text/html,hi) [vb](vbscript:msgbox(1)) "
            "[ok](https://wiki.example/) ![img](data:image/png;base64,AAAA)")


def test_markdown_links_in_notes(client_as):
    incident = open_incident()
    client = client_as("responder")
    client.post(reverse("incidents:notes", args=[incident.reference]), {"text": MARKDOWN})
    page = client.get(incident.get_absolute_url()).content.decode()
    assert_only_web_links(page)
    assert '<a rel="noopener noreferrer">js</a>' in page  # the text, without an href
    assert '<a href="https://wiki.example/" rel="noopener noreferrer">ok</a>' in page


def test_markdown_links_in_runbooks(client_as):
    make_version(make_doc(shell("true"), slug="disk-full"), source=f"# Disk full\n\n{MARKDOWN}\n")
    page = client_as("responder").get("/runbooks/disk-full/").content.decode()
    assert_only_web_links(page)
    assert '<a rel="noopener noreferrer">vb</a>' in page
    assert '<a href="https://wiki.example/" rel="noopener noreferrer">ok</a>' in page
