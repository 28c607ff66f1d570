"""Shared template helpers: times in the viewer's zone with UTC on hover, and links
only to web addresses."""
from datetime import timezone as dt_timezone

from django import template
from django.utils import timezone
from django.utils.html import format_html

from ops_console.ui.links import web_url

register = template.Library()


@register.filter
def when(value, style="datetime"):
    """<time> that static/js/app.js rewrites into the viewer's local zone;
    the title keeps UTC, and the text without JavaScript is UTC too."""
    if not value:
        return "—"
    utc = value.astimezone(dt_timezone.utc) if timezone.is_aware(value) else value
    iso = utc.isoformat()
    text = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html('<time datetime="{}" title="{}" data-style="{}">{}</time>', iso, text, style, text)


@register.filter
def duration(seconds):
    """Seconds as 1h 02m / 3m 05s / 4.2s."""
    if seconds is None:
        return "—"
    seconds = float(seconds.total_seconds() if hasattr(seconds, "total_seconds") else seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def link(url, text=""):
    """{{ url|link:"runbook" }}: a link when the URL is http(s) or a path on this site
    (ops_console.ui.links), otherwise the URL itself as text, never an href."""
    if not url:
        return ""
    href = web_url(url)
    if href is None:
        return format_html('<span class="unsafe-url" title="Not a web address, so not a link">{}</span>', url)
    return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', href, text or url)
