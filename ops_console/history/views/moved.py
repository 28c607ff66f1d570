"""The addresses the history had under /audit/ before it moved: each answers a
permanent redirect to where that page is now, its query string kept, so links
pasted into chats and tickets keep working."""
from django.http import Http404, HttpResponsePermanentRedirect
from django.urls import NoReverseMatch, reverse

from ops_console.ui.access import require


def moved_to(view_name):
    """A view that sends GET and HEAD (and anything else) to `view_name` with the same URL arguments."""

    @require()  # signed in, as on the page it leads to; that page checks its own permission
    def view(request, **kwargs):
        try:
            url = reverse(view_name, kwargs=kwargs)
        except NoReverseMatch:  # e.g. /audit/incidents/nonsense/: no incident page could match
            raise Http404("No such page") from None
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(f"{url}?{query}" if query else url)

    return view
