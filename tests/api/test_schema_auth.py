import pytest
from django.test import Client
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import make_conversation


def test_openapi_schema_is_valid_and_lists_the_routes(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    for route in (
        "/api/conversations/",
        "/api/conversations/{id}/continue/",
        "/api/messages/{id}/feedback/",
        "/api/shared/{token}/",
    ):
        assert route in schema["paths"]


def test_the_schema_ignores_a_version_asked_for_in_the_query(api):
    """drf-spectacular put `?version=` into the Content-Disposition header: a NUL or a line
    break there made the server drop the connection (uvicorn refuses such a header)."""
    for version in ("2", "a\x00b", "a\r\nX-Injected: yes"):
        response = api.get("/api/schema/", {"version": version})
        assert response.status_code == 200, version
        assert response["Content-Disposition"] == 'inline; filename="chatproject API (1).yaml"'
        assert "X-Injected" not in response


def test_docs_are_served_without_internet(api):
    response = api.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html


def test_token_auth(alice):
    token = Token.objects.create(user=alice)
    make_conversation(alice, title="by token")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    body = client.get("/api/conversations/").json()
    assert [c["title"] for c in body["results"]] == ["by token"]
    assert client.post("/api/conversations/", {}, format="json").status_code == 201


@pytest.mark.parametrize("with_token", [False, True])
def test_session_writes_need_the_csrf_token(alice, with_token):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    headers = {}
    if with_token:
        client.get("/accounts/login/")  # sets the csrftoken cookie
        headers["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value
    response = client.post("/api/conversations/", {}, content_type="application/json", **headers)
    assert response.status_code == (201 if with_token else 403)


def test_schema_generation_has_no_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
