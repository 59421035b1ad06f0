"""Every page carries a Content-Security-Policy that forbids inline script and any source
but the site itself."""

import pytest

from conversations import services
from tests.factories import make_conversation, make_message

STRICT = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
]


def policy_of(response) -> list[str]:
    return [part.strip() for part in response["Content-Security-Policy"].split(";")]


@pytest.fixture
def share(alice):
    conversation = make_conversation(alice, title="Shared")
    message = make_message(conversation, text="Look")
    return services.share_create(conversation=conversation, user=alice, message=message)


def test_pages_carry_the_strict_policy(client, alice, staff, share):
    anonymous_pages = ["/accounts/login/", "/admin/login/", f"/s/{share.token}/", "/s/nope/"]
    for url in anonymous_pages:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        assert set(STRICT) <= set(policy_of(response)), url
    client.force_login(staff)
    for url in ["/", "/admin/", "/admin/conversations/conversation/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert set(STRICT) <= set(policy_of(response)), url


def test_the_socket_of_the_same_host_may_be_opened(client, alice):
    client.force_login(alice)
    assert "connect-src 'self' ws://testserver" in policy_of(client.get("/"))
    secure = client.get("/", secure=True)
    assert "connect-src 'self' wss://testserver" in policy_of(secure)


def test_the_api_docs_run_their_script_from_a_file(client, alice):
    client.force_login(alice)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert "script-src 'self'" in policy_of(response)
    assert "<script>" not in response.content.decode()
