"""A failure the code did not expect still answers API clients in their own format, not
with an HTML page they cannot read."""

import pytest
from django.test import Client

from conversations import selectors, services
from tests.factories import make_conversation

DETAIL = "The server failed to answer (the error is logged); try again."


def _fails(**kwargs):
    raise RuntimeError("a bug")


@pytest.fixture
def failing_reads(monkeypatch):
    """Reading a conversation raises what no view expects."""
    monkeypatch.setattr(selectors, "conversation_get_for_user", _fails)


@pytest.fixture
def http():
    return Client(raise_request_exception=False)


def test_an_unexpected_failure_under_api_is_a_json_500(alice, failing_reads, http):
    conversation = make_conversation(alice)
    http.force_login(alice)
    response = http.get(f"/api/conversations/{conversation.id}/")
    assert response.status_code == 500
    assert response.json() == {"code": "internal_error", "detail": DETAIL}


def test_an_unexpected_failure_under_v1_is_a_500_in_openais_shape(alice, failing_reads, http):
    conversation = make_conversation(alice)
    key = services.api_key_create(owner=alice, name="tests")[1]
    response = http.get(
        f"/v1/conversations/conv_{conversation.id.hex}", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 500
    error = {"message": DETAIL, "type": "server_error", "param": None, "code": "internal_error"}
    assert response.json() == {"error": error}


def test_an_unexpected_failure_on_a_page_is_still_a_page(alice, failing_reads, http):
    conversation = make_conversation(alice)
    http.force_login(alice)
    response = http.get(f"/c/{conversation.id}/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
