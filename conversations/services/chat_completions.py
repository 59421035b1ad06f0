"""Chat Completions requests (the OpenAI-compatible API) mapped onto the message tree.

A request carries the whole conversation as the client sees it. Its messages are matched
against the stored active path; what follows the match is stored under the last matching
message (appended at the leaf, or a new branch where the request departs from the path,
as an edit makes), then the reply under it. Nothing is stored twice.
"""

from django.db import transaction
from django.utils import timezone

from .. import selectors
from ..content import parse_user_content
from ..errors import InvalidContent
from ..llm.tools import CLIENT_TOOLS
from ..model_choices import model_check
from ..models import Conversation, Message
from ..serialization import message_to_dict, storable
from .conversations import conversation_create
from .locking import lock_conversation
from .messages import (
    _announce_created,
    _auto_title,
    _moderated,
    _reply_create,
    create_messages,
)

SYSTEM_ROLES = ("system", "developer")
ROLES = (*SYSTEM_ROLES, "user", "assistant", "tool")
# Text parts in either API's spelling (Chat Completions', then Responses').
TEXT_PARTS = ("text", "refusal", "input_text", "output_text")
# Stored replies that hold nothing the client could send back.
UNUSABLE = (Message.Status.FAILED, Message.Status.QUEUED, Message.Status.IN_PROGRESS)


def content_text(content, where: str) -> str:
    """The text of a message's `content`: a string, or text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidContent(f"{where} must be a string or a list of parts.", param=where)
    texts = []
    for position, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") not in TEXT_PARTS:
            raise InvalidContent(
                f"{where}[{position}] must be a text part here.", param=f"{where}[{position}]"
            )
        value = part.get("text", part.get("refusal", ""))
        if not isinstance(value, str):
            raise InvalidContent(f"{where}[{position}].text must be a string.", param=where)
        texts.append(value)
    return "".join(texts)


def _user_part(part, where: str) -> dict:
    """A Chat Completions user content part as one of our input items."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"type": "input_text", "text": part.get("text")}
    if kind == "image_url" and isinstance(part.get("image_url"), dict):
        image = part["image_url"]
        item = {"type": "input_image", "image_url": image.get("url")}
        if image.get("detail"):
            item["detail"] = image["detail"]
        return item
    if kind == "file" and isinstance(part.get("file"), dict):
        keys = ("file_id", "file_data", "filename")
        return {"type": "input_file", **{k: part["file"][k] for k in keys if k in part["file"]}}
    raise InvalidContent(
        f"{where} has an unsupported part type {kind!r}: use text, image_url or file.",
        param=where,
    )


def _turn(message, position: int, owner) -> tuple[str, list[dict]]:
    """(role, content items) of one request message, checked."""
    where = f"messages[{position}]"
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise InvalidContent(
            f"{where}.role must be one of {', '.join(ROLES)}.", param=f"{where}.role"
        )
    role, content = message["role"], message.get("content")
    if role == "user":
        if isinstance(content, list):
            content = [
                _user_part(part, f"{where}.content[{index}]") for index, part in enumerate(content)
            ]
        try:
            return role, parse_user_content(content, owner_id=owner.pk)
        except InvalidContent as exc:
            raise InvalidContent(exc.detail, param=f"{where}.content") from None
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidContent(
                f"{where}.tool_call_id is required.", param=f"{where}.tool_call_id"
            )
        output = content_text(content, f"{where}.content")
        return role, [{"type": "function_call_output", "call_id": call_id, "output": output}]
    text = content_text(content, f"{where}.content")
    if role in SYSTEM_ROLES:
        return role, [{"type": "input_text", "text": text}]
    items = [{"type": "output_text", "text": text, "annotations": []}] if text else []
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise InvalidContent(f"{where}.tool_calls must be a list.", param=f"{where}.tool_calls")
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidContent(
                f"{where}.tool_calls[{index}] needs a function with a name.",
                param=f"{where}.tool_calls[{index}]",
            )
        items.append(
            {
                "type": "function_call",
                "call_id": str(call.get("id") or ""),
                "name": function["name"],
                "arguments": str(function.get("arguments") or ""),
            }
        )
    return role, items


def _key(role: str, items: list[dict]) -> tuple:
    """What must be equal for a request message to be a stored one: the text, images and
    files a person sent; the text and open tool calls of a reply (a client never sends
    back reasoning, nor the calls of server-side tools); a tool's outputs."""
    if role == "user":
        return role, tuple(
            (item["type"], (item.get("text") or "").strip(), item.get("image_url") or "",
             item.get("file_id") or item.get("file_data") or "")
            for item in items
        )  # fmt: skip
    if role == "tool":
        return role, tuple(
            (item.get("call_id"), item.get("output"))
            for item in items
            if item["type"] == "function_call_output"
        )
    answered = {item.get("call_id") for item in items if item["type"] == "function_call_output"}
    text = "".join(item.get("text", "") for item in items if item["type"] == "output_text")
    calls = tuple(
        (item.get("call_id"), item.get("name"), item.get("arguments"))
        for item in items
        if item["type"] == "function_call" and item.get("call_id") not in answered
    )
    return role, text.strip(), calls


def _usable_path(conversation: Conversation) -> list[Message]:
    return [
        message
        for message in selectors.conversation_branch(conversation=conversation)
        if not (message.role == Message.Role.ASSISTANT and message.status in UNUSABLE)
    ]


def _match(path: list[Message], turns: list[tuple[str, list[dict]]]) -> tuple[Message | None, int]:
    """The last stored message the request agrees with (None: none, so the new messages
    start a new root), and how many request messages it covers."""
    parent, start = None, 0
    if path and path[0].role == Message.Role.ASSISTANT and turns[0][0] != "assistant":
        parent, start = path[0], 1  # a welcome message: shown, never sent back
    matched = 0
    for message, (role, items) in zip(path[start:], turns, strict=False):
        if _key(message.role, message_to_dict(message)["content"]) != _key(role, items):
            break
        parent = message
        matched += 1
    return parent, matched


def chat_completion_start(
    *,
    owner,
    messages: list,
    model: str = "",
    tools: list | None = None,
    conversation: Conversation | None = None,
    store: bool = True,
) -> tuple[Conversation, Message]:
    """Store a Chat Completions request's messages in `conversation` (None: a new one) as
    the module says, and the reply to write; returns `(conversation, reply)`, the reply
    `in_progress` or `queued` (the caller hands it to `generation.reply_start`).

    System and developer messages are the conversation's system prompt; `tools`, when
    given, the tools its client runs (kept in its context as `client_tools`: offered to
    the model, their calls passed back). `store` False: a conversation of its own,
    archived, for the caller to delete once the reply ended.
    """
    if not isinstance(messages, list) or not messages:
        raise InvalidContent("messages must be a non-empty list.", param="messages")
    parsed = [_turn(message, position, owner) for position, message in enumerate(messages)]
    return turns_store(
        owner=owner,
        turns=parsed,
        model=model,
        tools=tools,
        conversation=conversation,
        store=store,
        parent_for=lambda locked, turns: _match(_usable_path(locked), turns),
        where="messages",
    )


@transaction.atomic
def turns_store(
    *,
    owner,
    turns: list[tuple[str, list[dict]]],
    model: str,
    tools: list | None,
    conversation: Conversation | None,
    store: bool,
    parent_for,
    where: str,
    answer: bool = True,
) -> tuple[Conversation, Message | None]:
    """Store checked `(role, items)` turns of an OpenAI request and the reply to write
    (shared by Chat Completions, Responses and Conversations). System and developer
    turns set the system prompt; the others go under `parent_for(locked, turns)`, which
    answers `(parent, how many of the turns are stored already)`. `where` names the
    request field in errors. Returns `(conversation, reply)` as `chat_completion_start`
    says; with `answer` False the turns alone are stored (the reply is None)."""
    # A model the picker does not offer is refused here too (its own model for the local
    # and demo providers, whatever the request names).
    model = model_check(model)
    # A request without system messages leaves the conversation's prompt as it is.
    system_texts = [items[0]["text"] for role, items in turns if role in SYSTEM_ROLES]
    system_prompt = "\n\n".join(text for text in system_texts if text) if system_texts else None
    turns = [(role, items) for role, items in turns if role not in SYSTEM_ROLES]
    if answer and (not turns or turns[-1][0] not in ("user", "tool")):
        raise InvalidContent(
            "The last message must be the user's (or a tool's output): there is nothing to answer.",
            param=where,
        )
    flags = _moderated(turns[-1][1], []) if turns and turns[-1][0] == "user" else None
    if conversation is None:
        conversation = conversation_create(
            owner=owner,
            system_prompt=system_prompt or "",
            model=model,
            context={} if store else {"store": False},
        )
        if not store:
            conversation.archived = True
            conversation.save(update_fields=["archived"])
    locked = lock_conversation(conversation.id, turn=True)
    fields = ["current_leaf", "updated_at"]
    for name, value in (("system_prompt", system_prompt), ("model", model)):
        if value and getattr(locked, name) != value:
            setattr(locked, name, storable(value))
            fields.append(name)
    if tools is not None and locked.context.get(CLIENT_TOOLS) != tools:
        locked.context = {**locked.context, CLIENT_TOOLS: storable(tools)}
        fields.append("context")
    parent, matched = parent_for(locked, turns)
    asked = []
    for position, (role, items) in enumerate(turns[matched:], start=matched):
        parent = Message(
            conversation=locked,
            parent=parent,
            role=role,
            flags=flags if position == len(turns) - 1 else None,
            completed_at=timezone.now(),
        )
        asked.append((parent, storable(items), []))
    created = [message for message, _, _ in asked]
    reply = None
    if answer:
        reply = _reply_create(conversation=locked, parent=parent, idempotency_key="", asked=asked)
        created.append(reply)
    else:
        create_messages(*asked)
    locked.current_leaf = reply or parent
    first_user = next((items for role, items in turns if role == "user"), None)
    if not locked.title and first_user:
        locked.title = storable(_auto_title(first_user))
        fields.append("title")
    locked.save(update_fields=fields)
    _announce_created(locked, *created)
    return locked, reply
