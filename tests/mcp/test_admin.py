"""The admin of MCP servers: added at run time (secrets written, never shown back), every
server's status, refresh on demand, and tool calls showing their server."""

import json
import re
import sys

import pytest
from django.urls import reverse

from conversations.mcp import hub
from conversations.models import ContentItem, McpServer
from tests.factories import make_conversation, make_message
from tests.mcp_servers import CHILD_ENV, MISBEHAVING, time_server

pytestmark = pytest.mark.django_db(transaction=True)
ADD = reverse("admin:conversations_mcpserver_add")
LIST = reverse("admin:conversations_mcpserver_changelist")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def form(**fields):
    data = {
        "name": "odd",
        "transport": "stdio",
        "command": sys.executable,
        "args": json.dumps([MISBEHAVING]),
        "url": "",
        "enabled": "on",
        "new_env": json.dumps({**CHILD_ENV, "SECRET_TOKEN": "s3cret-value"}),
        "new_headers": "",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def test_a_server_added_in_the_admin_starts_and_its_secrets_are_not_shown(
    staff_client, mcp_servers
):
    mcp_servers()

    response = staff_client.post(ADD, form())

    assert response.status_code == 302, response.content.decode()
    server = McpServer.objects.get(name="odd")
    assert server.env["SECRET_TOKEN"] == "s3cret-value"
    status = {status.name: status for status in hub.statuses()}["odd"]
    assert (status.state, status.source, len(status.tools)) == ("ready", "admin", 4)
    page = staff_client.get(reverse("admin:conversations_mcpserver_change", args=[server.id]))
    body = page.content.decode()
    assert "SECRET_TOKEN" in body
    assert "s3cret-value" not in body
    assert "odd__echo" in body
    listing = staff_client.get(LIST).content.decode()
    assert '<td class="field-state">ready</td>' in listing
    assert '<td class="field-tool_count">4</td>' in listing


def test_a_change_that_leaves_the_secrets_empty_keeps_them(staff_client, mcp_servers):
    mcp_servers()
    staff_client.post(ADD, form())
    server = McpServer.objects.get(name="odd")

    change = reverse("admin:conversations_mcpserver_change", args=[server.id])
    response = staff_client.post(change, form(new_env="", offered_by_default="on"))

    assert response.status_code == 302
    server.refresh_from_db()
    assert server.offered_by_default
    assert server.env["SECRET_TOKEN"] == "s3cret-value"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": "time"}, "MCP_SERVERS already has a server named"),
        ({"command": ""}, "a stdio server needs a command"),
        ({"transport": "http", "url": ""}, "needs an http:// or https:// url"),
        ({"new_env": "[1]"}, "A JSON object of strings"),
        ({"name": "two words"}, "must be 1 to 32 letters"),
    ],
)
def test_a_server_that_could_not_start_is_refused_with_the_reason(
    staff_client, mcp_servers, fields, error
):
    mcp_servers(time=time_server())

    response = staff_client.post(ADD, form(**fields))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not McpServer.objects.exists()


def test_deleting_a_server_closes_it(staff_client, mcp_servers):
    mcp_servers()
    staff_client.post(ADD, form())
    server = McpServer.objects.get(name="odd")

    staff_client.post(
        reverse("admin:conversations_mcpserver_delete", args=[server.id]), {"post": "yes"}
    )

    assert not McpServer.objects.exists()
    assert hub.statuses() == []


def test_the_list_shows_the_servers_of_mcp_servers_with_their_status(staff_client, mcp_servers):
    mcp_servers(time=time_server(default=True), gone={"command": "/nonexistent/mcp-server"})

    body = staff_client.get(LIST).content.decode()

    assert "From MCP_SERVERS" in body
    assert "<td>time</td><td>stdio</td><td>yes</td>" in body
    assert "<td>ready</td><td>2</td>" in body
    assert "<td>failed</td><td>0</td>" in body
    assert "No such file or directory" in body


def test_refresh_lists_the_tools_again_and_says_which_servers_fail(staff_client, mcp_servers):
    mcp_servers(gone={"command": "/nonexistent/mcp-server"})

    response = staff_client.post(reverse("admin:conversations_mcpserver_refresh"), follow=True)

    assert "Tool lists refreshed; failing: gone." in response.content.decode()
    assert staff_client.get(reverse("admin:conversations_mcpserver_refresh")).status_code == 405


def test_a_message_s_tool_calls_show_their_server(staff_client, alice):
    conversation = make_conversation(alice)
    reply = make_message(conversation, make_message(conversation), role="assistant", text="")
    ContentItem.objects.create(
        message=reply,
        index=1,
        type="function_call",
        data={"call_id": "c1", "name": "time__convert_time", "arguments": "{}", "server": "time"},
    )
    ContentItem.objects.create(
        message=reply,
        index=2,
        type="function_call_output",
        data={"call_id": "c1", "output": "Error: no", "server": "time", "is_error": True},
    )

    body = staff_client.get(
        reverse("admin:conversations_message_change", args=[reply.id])
    ).content.decode()

    servers = re.findall(r'class="field-tool_server">\s*<p>([^<]*)</p>', body)
    assert servers == ["", "time", "time (failed)"]


def test_a_streamable_http_server_added_in_the_admin_starts(
    staff_client, mcp_servers, time_http_url
):
    mcp_servers()

    response = staff_client.post(
        ADD,
        form(
            name="clock",
            transport="http",
            command="",
            args="",
            url=time_http_url,
            new_env="",
            new_headers=json.dumps({"Authorization": "Bearer not-shown"}),
        ),
    )

    assert response.status_code == 302, response.content.decode()
    server = McpServer.objects.get(name="clock")
    assert (server.args, server.env) == ([], {})
    assert server.headers == {"Authorization": "Bearer not-shown"}
    status = hub.statuses()[0]
    assert (status.name, status.state, len(status.tools)) == ("clock", "ready", 2)
    page = staff_client.get(reverse("admin:conversations_mcpserver_change", args=[server.id]))
    assert "Bearer not-shown" not in page.content.decode()
