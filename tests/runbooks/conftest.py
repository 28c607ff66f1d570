"""Fixtures for runbook tests (builders live in builders.py)."""
import pytest


@pytest.fixture
def commander(make_user):
    return make_user("commander")


@pytest.fixture
def responder(make_user):
    return make_user("responder")

