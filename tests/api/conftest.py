"""Builders for API tests: a user in a role with a personal token, and a client
that sends it as a bearer token."""
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ops_console.accounts.tokens import do_create_api_token

ROLES = ["responder", "commander", "auditor", "admin"]


class ApiClient:
    """Django's test client with a bearer token and JSON bodies."""

    def __init__(self, raw, user=None, token=None):
        self.client, self.raw, self.user, self.token = Client(), raw, user, token

    def _headers(self):
        return {"HTTP_AUTHORIZATION": f"Bearer {self.raw}"} if self.raw else {}

    def get(self, path, params=None):
        return self.client.get(path, params or {}, **self._headers())

    def post(self, path, body=None):
        return self.client.post(path, json.dumps(body if body is not None else {}), content_type="application/json",
                                **self._headers())

    def delete(self, path):
        return self.client.delete(path, **self._headers())

    def call(self, method, path, body=None):
        """GET, POST or DELETE by name, as the schema lists an operation."""
        if method == "GET":
            return self.get(path)
        if method == "DELETE":
            return self.delete(path)
        return self.post(path, body)


@pytest.fixture
def api_as(make_user):
    """api_as("commander") -> an ApiClient holding a read-write token of a new commander;
    api_as("auditor", scope="read"); api_as(None) for a user with no role."""

    def make(role, scope="read-write", user=None, days=30):
        user = user or make_user(role)
        token, raw = do_create_api_token(user, name=f"{role}-token", scope=scope,
                                         expires_at=timezone.now() + timedelta(days=days), acting_user=user)
        return ApiClient(raw, user, token)

    return make


def error_of(response):
    """The one error shape, checked: returns (code, message, details)."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]["code"], body["error"]["message"], body["error"]["details"]
