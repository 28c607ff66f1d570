"""Markdown to safe HTML for runbooks, notes and postmortems, with the same
CommonMark reader the runbook parser uses (markdown-it-py). Everything it
emits passes through nh3 (an allow-list sanitizer), so a <script>, an onclick
or a javascript: link in the source never reaches a page: a link to anything
but http(s) or a relative address loses its href and reads as text."""
import nh3
from django.utils.safestring import mark_safe
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

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
    "th": {"align", "style"},
    "td": {"align", "style"},
    "ul": {"class"},
    "li": {"class"},
    "input": {"type", "checked", "disabled", "class"},
    "*": {"id"},
}
# A table cell's alignment is the one style that survives (markdown-it writes text-align as a style).
STYLES = {"text-align"}

# Front matter is metadata, not text: it is dropped. A fence's info string
# ("shell title=x auto=true") gives the code its language class from its
# first word only. Headings get ids, so a phase can be linked to.
MARKDOWN = (MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
            .use(front_matter_plugin).use(tasklists_plugin).use(anchors_plugin, max_level=6))
# Every link reaches nh3, which alone decides which schemes keep their href
# (markdown-it would leave a javascript: link as its raw [text](source)).
MARKDOWN.validateLink = lambda url: True


def render(text):
    html = MARKDOWN.render(text or "")
    clean = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=set(WEB_SCHEMES),
                      link_rel="noopener noreferrer", filter_style_properties=STYLES)
    return mark_safe(clean)  # noqa: S308 - sanitized just above
