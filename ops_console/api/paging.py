"""Cursor pagination for lists: keyset on id, newest first (ui.paging's keyset
pages), `?cursor=<id>` from the previous page's `next`."""
from ops_console.ui.paging import keyset_page

from .errors import ApiError

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


def page_of(queryset, cursor=None, limit=DEFAULT_LIMIT, key="id"):
    """(items, next cursor or None)."""
    if cursor is not None and cursor < 1:
        raise ApiError(400, "cursor must be a positive id from a previous page's next.", {"field": "cursor"})
    limit = max(1, min(limit or DEFAULT_LIMIT, MAX_LIMIT))
    page = keyset_page(queryset, {"before": cursor} if cursor else {}, size=limit, key=key)
    return page.items, page.older
