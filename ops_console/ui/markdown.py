"""Markdown to safe HTML for runbooks, notes and postmortems. Everything the
Markdown library emits passes through nh3 (an allow-list sanitizer), so a
<script>, an onclick or a javascript: link in the source never reaches a page: a link
to anything but http(s) or a relative address loses its href and reads as text."""
import markdown as md
import nh3
from django.utils.safestring import mark_safe

from .links import WEB_SCHEMES

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "input", "kbd", "li", "ol", "p", "pre", "s", "span", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "span": {"class"},
    "div": {"class"},
    "th": {"align"},
    "td": {"align"},
    "input": {"type", "checked", "disabled"},
    "*": {"id"},
}
EXTENSIONS = ["fenced_code", "tables", "sane_lists", "toc"]


def render(text):
    html = md.markdown(text or "", extensions=EXTENSIONS, output_format="html")
    clean = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=set(WEB_SCHEMES),
                      link_rel="noopener noreferrer")
    return mark_safe(clean)  # noqa: S308 - sanitized just above
