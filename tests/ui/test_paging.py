"""Keyset pages on id, newest first: walking back and forth finds every row once, in order."""
import pytest
from django.contrib.auth.models import Group
from django.http import QueryDict

from ops_console.ui.paging import cursor, keyset_page, query_without_cursor

pytestmark = pytest.mark.django_db


def test_cursor_takes_only_positive_whole_numbers():
    assert [cursor(v) for v in ("7", "0", "-3", "x", None, "")] == [7, None, None, None, None, None]


def test_the_query_without_its_cursor_keeps_the_filter():
    assert query_without_cursor(QueryDict("q=disk&before=9&after=3&severity=P1")) == "q=disk&severity=P1"


def test_pages_walk_back_and_forth_without_gaps():
    made = [Group.objects.create(name=f"paged {n}").pk for n in range(7)]
    newest_first = sorted(Group.objects.values_list("pk", flat=True), reverse=True)
    queryset = Group.objects.all()
    seen, params, page = [], QueryDict(""), None
    while True:
        page = keyset_page(queryset, params, size=3)
        seen += [g.pk for g in page.items]
        if page.older is None:
            break
        params = QueryDict(f"before={page.older}")
    assert seen == newest_first and set(made) <= set(seen)
    back = keyset_page(queryset, QueryDict(f"after={page.newer}"), size=3)
    last = len(page.items)
    assert [g.pk for g in back.items] == seen[-last - 3:-last]  # the page before the last


def test_a_union_of_parts_is_paged_as_one():
    groups = [Group.objects.create(name=f"{kind} {n}") for n in range(3) for kind in ("odd", "even")]
    parts = [Group.objects.filter(name__startswith="odd"), Group.objects.filter(name__startswith="even")]
    page = keyset_page(parts, QueryDict(""), size=4)
    assert [g.pk for g in page.items] == sorted((g.pk for g in groups), reverse=True)[:4]
    assert page.older == page.items[-1].pk and page.newer is None
