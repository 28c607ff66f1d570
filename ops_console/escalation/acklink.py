"""The acknowledge link in a page: a signed token naming the page. The
signature makes it unforgeable; the page row makes it work once
(link_used_at) and expire (link_expires_at)."""
from django.core import signing

SALT = "ops_console.escalation.ack"


class LinkInvalid(Exception):
    """The message says what is wrong, for the person holding the link;
    `gone` when it was valid once (used or expired)."""

    def __init__(self, message, *, gone=False):
        super().__init__(message)
        self.gone = gone


def make_token(page):
    return signing.Signer(salt=SALT).sign_object({"page": page.pk})


def page_for_token(token, now):
    """The page a valid, unused, unexpired token names; LinkInvalid otherwise."""
    from .models import Page

    try:
        page_id = signing.Signer(salt=SALT).unsign_object(token)["page"]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise LinkInvalid("This acknowledge link is not valid. Open the incident in the console instead.") from None
    page = Page.objects.select_related("incident__severity", "user").filter(pk=page_id).first()
    if page is None:
        raise LinkInvalid("This page no longer exists.")
    if page.link_used_at is not None:
        raise LinkInvalid("This acknowledge link was already used.", gone=True)
    if page.link_expires_at <= now:
        raise LinkInvalid("This acknowledge link has expired. Open the incident in the console instead.", gone=True)
    return page
