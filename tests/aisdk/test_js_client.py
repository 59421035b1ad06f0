"""The AI SDK's real client in Node (`ai` 6.x, and `ai@5.0.0`, whose chunk schema rejects
unknown fields) against the live server: the scripts in tests/js drive `AbstractChat` and
`DefaultChatTransport` as `useChat` does and print what the client ended with. `make test`
installs their packages (`npm ci --prefix tests/js`); without them these tests skip,
except in CI, where they fail."""

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from conversations import services
from conversations.models import Conversation, Message

JS = Path(__file__).resolve().parents[1] / "js"
PACKAGES = ["ai", "ai5"]


@pytest.fixture(scope="session")
def node():
    path = shutil.which("node")
    missing = None
    if path is None:
        missing = "node is not installed"
    elif not (JS / "node_modules" / "ai").is_dir() or not (JS / "node_modules" / "ai5").is_dir():
        missing = "tests/js/node_modules is missing: run npm ci --prefix tests/js (make test does)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; .ci/run (make test) should have installed it")
        pytest.skip(missing)
    return path


@pytest.fixture
def run_script(node, server_url, alice):
    """`run_script(name, *args, package="ai")`: run tests/js/<name>.mjs as Alice against
    the live server; returns its JSON report (the test fails with its output otherwise)."""
    token = Token.objects.create(user=alice).key

    def run(name: str, *args: str, package: str = "ai") -> dict:
        command = [node, str(JS / f"{name}.mjs"), server_url, token, *args]
        if package == "ai5":
            command.append("--ai5")
        done = subprocess.run(command, cwd=JS, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name}.mjs failed:\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run


def transcript(messages: list[dict]) -> list[tuple[str, str]]:
    return [(message["role"], message["text"]) for message in messages]


def parts_text(message: dict) -> str:
    return "".join(part["text"] for part in message["parts"] if part["type"] == "text")


@pytest.mark.parametrize("package", PACKAGES)
def test_first_turn_continue_regenerate_and_edit(fake_openai, run_script, package):
    for text in ("Answer one", "Answer two", "Answer two again", "Answer edited"):
        fake_openai.reply(text)

    steps = run_script("conversation", package=package)

    assert transcript(steps["first"]["messages"]) == [("user", "One"), ("assistant", "Answer one")]
    assert transcript(steps["continued"]["messages"])[2:] == [
        ("user", "Two"),
        ("assistant", "Answer two"),
    ]
    assert transcript(steps["regenerated"]["messages"])[2:] == [
        ("user", "Two"),
        ("assistant", "Answer two again"),
    ]
    assert transcript(steps["edited"]["messages"]) == [
        ("user", "One, edited"),
        ("assistant", "Answer edited"),
    ]
    # The client's reply ids are the stored replies' ids, and the server's branch is the
    # client's.
    replies = [step["messages"][-1]["id"] for step in steps.values() if "messages" in step]
    stored = Message.objects.filter(id__in=replies, role="assistant")
    assert sorted(str(reply.id) for reply in stored) == sorted(replies)
    assert [(m["role"], parts_text(m)) for m in steps["stored"]] == transcript(
        steps["edited"]["messages"]
    )
    assert steps["stored"][-1]["id"] == steps["edited"]["messages"][-1]["id"]
    conversation = Conversation.objects.get()
    assert Message.objects.filter(conversation=conversation, role="user").count() == 3
    assert Message.objects.filter(conversation=conversation, role="assistant").count() == 4


def test_a_dropped_stream_is_resumed_exactly(fake_openai, run_script):
    tokens = [f"n{number} " for number in range(200)]
    fake_openai.reply(tokens, pace=0.02)

    result = run_script("resume")

    whole = "".join(tokens)
    dropped = result["dropped"]["messages"][-1]
    assert result["dropped"]["status"] == "ready"  # stop() is no error
    assert 0 < len(dropped["text"]) < len(whole)
    assert result["loaded"][-1]["id"] == dropped["id"]  # the reply, half written
    for tab in ("resumed", "tab", "after"):
        assert result[tab]["status"] == "ready", result[tab]["error"]
        assert transcript(result[tab]["messages"]) == [("user", "Count"), ("assistant", whole)]
        assert result[tab]["messages"][-1]["id"] == dropped["id"]
    reply = Message.objects.get(id=dropped["id"])
    assert reply.status == "completed"


@pytest.mark.parametrize("package", PACKAGES)
def test_an_upstream_error_sets_the_clients_error(fake_openai, run_script, package):
    fake_openai.error(400, "The upstream refused this request.", code="invalid_request")

    result = run_script("single_turn", package=package)

    assert result["status"] == "error"
    assert "refused" in result["error"]
    assert Message.objects.get(role="assistant").status == "failed"


def delete_the_reply_once_it_streams(seconds=20):
    """Delete the first reply a little after it starts, as its user would in another tab."""
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            reply = Message.objects.filter(role="assistant", status="in_progress").first()
            if reply is not None:
                time.sleep(0.3)  # its text is streaming by now
                services.message_delete(message=reply)
                return
            time.sleep(0.02)
    finally:
        connection.close()


@pytest.mark.parametrize("package", PACKAGES)
def test_a_reply_deleted_while_it_streams_sets_the_clients_error(fake_openai, run_script, package):
    fake_openai.reply(text=[f"t{number} " for number in range(200)], pace=0.02)
    deleting = threading.Thread(target=delete_the_reply_once_it_streams)
    deleting.start()

    result = run_script("single_turn", package=package)
    deleting.join()

    assert result["status"] == "error"
    assert "deleted" in result["error"]
    assert not Message.objects.filter(role="assistant").exists()


@pytest.mark.parametrize("package", PACKAGES)
def test_a_server_side_tool_call_is_a_dynamic_tool_part(fake_openai, run_script, alice, package):
    conversation = services.conversation_create(owner=alice, tools=["calculate"])
    fake_openai.reply(tool_calls=[("call_7", "calculate", '{"expression": "6*7"}')])
    fake_openai.reply("Forty-two.", reasoning="Easy.")

    result = run_script("single_turn", f"--chat={conversation.id}", package=package)

    assert result["status"] == "ready", result["error"]
    reply = result["messages"][-1]
    assert [part["type"] for part in reply["parts"]] == [
        "step-start",
        "dynamic-tool",
        "step-start",
        "reasoning",
        "text",
    ]
    tool = reply["parts"][1]
    assert (tool["toolName"], tool["toolCallId"], tool["state"]) == (
        "calculate",
        "call_7",
        "output-available",
    )
    assert tool["input"] == {"expression": "6*7"}
    assert tool["output"] == {"expression": "6*7", "value": 42}
    assert reply["text"] == "Forty-two."


def test_two_users_with_one_chat_id_never_meet(fake_openai, run_script, bob):
    bob_token = Token.objects.create(user=bob).key

    result = run_script("two_users", bob_token)

    assert transcript(result["alice"]["messages"])[0] == ("user", "I am Alice")
    assert transcript(result["bob"]["messages"])[0] == ("user", "I am Bob")
    assert parts_text(result["aliceStored"][0]) == "I am Alice"
    assert parts_text(result["bobStored"][0]) == "I am Bob"
    assert result["prying"]["status"] == "error"
    assert "No such chat" in result["prying"]["error"]
    assert Conversation.objects.filter(chat_id__startswith="shared-").count() == 2
