from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Scripts only from our own static files, so Markdown or alert text that
    slipped through sanitizing still cannot run (Django 5.2 has no CSP of its own)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
