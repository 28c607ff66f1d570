"""Keyset pagination on id, newest first: a page costs one indexed query however
deep it is (OFFSET would scan every row it skips), and a page link names the id
it starts from, so it stays the same page while new rows arrive. What is paged
may be one queryset or the union of several (of one model, with the same
columns): each is cut to a page on its own inside the one query."""
from dataclasses import dataclass, field


@dataclass
class KeysetPage:
    items: list = field(default_factory=list)
    newer: int | None = None  # ?after=<id> shows the entries just newer than this page
    older: int | None = None  # ?before=<id> shows the entries just older than this page

    @property
    def has_other_pages(self):
        return self.newer is not None or self.older is not None


def cursor(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def first_rows(sources, filters, order, count):
    """The first `count` rows, in `order`, of a queryset or of the union of a list
    of parts (querysets, or functions of the keyset filters returning one). Each
    part is ordered and limited before the union, so each can stop after `count`
    rows of its own index walk."""
    if not isinstance(sources, (list, tuple)):
        sources = [sources]
    parts = [(source(filters) if callable(source) else source.filter(**filters)).order_by(order)[:count]
             for source in sources]
    if len(parts) == 1:
        return list(parts[0])
    return list(parts[0].union(*parts[1:]).order_by(order)[:count])


def keyset_page(queryset, params, size=50, key="id"):
    """One page of `queryset` (or of the union of a list of querysets), newest
    first, from `?before=` / `?after=` in params."""
    before, after = cursor(params.get("before")), cursor(params.get("after"))
    if after is not None:
        rows = first_rows(queryset, {f"{key}__gt": after}, key, size + 1)
        more_newer = len(rows) > size
        items = rows[:size][::-1]
        page = KeysetPage(items, newer=getattr(items[0], key) if more_newer else None)
        page.older = getattr(items[-1], key) if items else after + 1
        return page
    rows = first_rows(queryset, {f"{key}__lt": before} if before is not None else {}, f"-{key}", size + 1)
    items = rows[:size]
    page = KeysetPage(items, older=getattr(items[-1], key) if len(rows) > size else None)
    if before is not None:
        page.newer = getattr(items[0], key) if items else before - 1
    return page


def query_without_cursor(params):
    """The filter part of a page's query string, for links to other pages and exports."""
    query = params.copy()
    for key in ("before", "after"):
        query.pop(key, None)
    return query.urlencode()
