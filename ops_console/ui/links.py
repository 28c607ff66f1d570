"""Which URLs that come from outside (alerts, Prometheus annotations, service
links, Markdown) may become links: http and https, and paths on this site.
Anything else (javascript:, data:, vbscript:, a scheme-relative //host) is shown as text."""
from urllib.parse import urlsplit

WEB_SCHEMES = ("http", "https")
# Browsers drop these anywhere in a URL before reading it ("java\tscript:" is javascript:).
_STRIPPED = {chr(c) for c in range(0x20)} | {"\x7f"}


def web_url(value):
    """The URL to put in an href, or None when it must stay text."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or any(ch in _STRIPPED for ch in url):
        return None
    if url.startswith("/"):
        # A path on this site; "//host" and "/\\host" are other hosts to a browser.
        return url if not url.startswith(("//", "/\\")) and "\\" not in url else None
    try:
        parts = urlsplit(url)
    except ValueError:  # an invalid IPv6 host
        return None
    if parts.scheme.lower() in WEB_SCHEMES and parts.netloc and "\\" not in url:
        return url
    return None
