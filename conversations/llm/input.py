"""What a model reads: the messages of a reply's branch, and those messages written for
Chat Completions, for the Responses API and, as plain text, for a small local model, with
one way to write a reference whichever provider runs."""

import base64

from .. import selectors
from ..models import Attachment, Conversation, Message
from ..serialization import message_to_dict

# The database -> our messages

# Replies the model never reads again: they hold nothing usable.
SKIPPED_REPLIES = (Message.Status.FAILED, Message.Status.QUEUED, Message.Status.IN_PROGRESS)


def _branch_messages(*, conversation_id, leaf_id) -> list[dict]:
    """The branch ending at `leaf_id` as the model reads it: `role`, `content` and
    `references` of each message in the API shape."""
    return selectors.message_path_contents(
        conversation_id=conversation_id, leaf_id=leaf_id, skip_replies=SKIPPED_REPLIES
    )


def _data_url(attachment: Attachment) -> str:
    with attachment.file.open("rb") as handle:
        encoded = base64.b64encode(handle.read()).decode("ascii")
    return f"data:{attachment.content_type};base64,{encoded}"


def _expand_attachments(messages: list[dict], *, owner_id) -> list[dict]:
    """Replace `file_id` items by the file's bytes (as data URLs) for the model."""
    ids = {
        item["file_id"]
        for message in messages
        for item in message["content"]
        if item["type"] in ("input_image", "input_file") and item.get("file_id")
    }
    if not ids:
        return messages
    attachments = {
        str(attachment.id): attachment
        for attachment in Attachment.objects.filter(owner_id=owner_id, id__in=ids)
    }
    for message in messages:
        expanded = []
        for item in message["content"]:
            attachment = attachments.get(item.get("file_id") or "")
            if attachment is not None and item["type"] == "input_image":
                item = {"type": "input_image", "image_url": _data_url(attachment)}
            elif attachment is not None and item["type"] == "input_file":
                item = {
                    "type": "input_file",
                    "filename": attachment.name,
                    "file_data": _data_url(attachment),
                }
            expanded.append(item)
        message["content"] = expanded
    return messages


def reply_input(*, reply: Message, parent: Message | None = None) -> list[dict]:
    """The messages the model reads to write `reply`: root -> parent of `reply` (never
    sibling branches), in the API shape, attachments as data URLs. `parent`: the reply's
    parent as its turn holds it (content and references loaded), so that only the
    messages above it are read."""
    if parent is None:
        leaf_id, below = reply.parent_id, []
    else:
        leaf_id, below = parent.parent_id, [parent]
    above = _branch_messages(conversation_id=reply.conversation_id, leaf_id=leaf_id)
    below = [
        message_to_dict(message)
        for message in below
        if not (message.role == Message.Role.ASSISTANT and message.status in SKIPPED_REPLIES)
    ]
    return _expand_attachments(above + below, owner_id=reply.conversation.owner_id)


def conversation_export_openai(*, conversation: Conversation) -> list[dict]:
    """The current branch in the OpenAI Chat Completions `messages` format, as the model
    reads it; attachments stay ids (an export carries no file data)."""
    branch = _branch_messages(conversation_id=conversation.id, leaf_id=conversation.current_leaf_id)
    return message_to_chat_completion_input(branch, system_prompt=conversation.system_prompt)


# Our messages -> model input


def _reference_text(reference: dict) -> str:
    """A reference the user quoted, as text the model reads."""
    label = reference.get("name") or reference.get("url") or "reference"
    source = f" ({reference['url']})" if reference.get("url") and reference.get("name") else ""
    return f"Reference: {label}{source}\n\n{reference.get('content', '')}".rstrip()


def _item_text(item: dict) -> str:
    return item.get("text", "")


def _paired_call_ids(messages: list[dict]) -> set[str]:
    """Calls that have an output. Both APIs reject a call without its output (a reply
    stopped mid-tool) and an output without its call, so unpaired ones are left out."""
    seen = {"function_call": set(), "function_call_output": set()}
    for message in messages:
        for item in message.get("content") or []:
            if item.get("type") in seen:
                seen[item["type"]].add(item.get("call_id", ""))
    return seen["function_call"] & seen["function_call_output"]


def _chat_part(item: dict) -> dict | None:
    """A user item as a Chat Completions content part (None: not sent)."""
    kind = item.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": _item_text(item)}
    if kind == "input_image" and item.get("image_url"):
        image = {"url": item["image_url"], "detail": item.get("detail") or "auto"}
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file = {k: item[k] for k in ("file_id", "file_data", "filename") if item.get(k)}
        return {"type": "file", "file": file}
    return None


def _responses_part(item: dict) -> dict | None:
    """A user item as a Responses input content part (None: not sent)."""
    kind = item.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "input_text", "text": _item_text(item)}
    if kind == "input_image" and (item.get("image_url") or item.get("file_id")):
        image = {k: item[k] for k in ("image_url", "file_id") if item.get(k)}
        return {"type": "input_image", "detail": item.get("detail") or "auto", **image}
    if kind == "input_file":
        keys = ("file_id", "file_data", "file_url", "filename")
        return {"type": "input_file", **{k: item[k] for k in keys if item.get(k)}}
    return None


def _user_parts(message: dict, to_part, text_type: str) -> list[dict]:
    """A user or system message's items as wire parts (`to_part` maps each one), then its
    references as text parts of type `text_type`."""
    parts = [to_part(item) for item in message.get("content") or []]
    references = [
        {"type": text_type, "text": _reference_text(reference)}
        for reference in message.get("references") or []
    ]
    return [part for part in parts if part is not None] + references


def message_to_chat_completion_input(messages: list[dict], *, system_prompt: str = "") -> list:
    """Our messages as Chat Completions `messages` (tool outputs become `tool` messages)."""
    chat = [{"role": "system", "content": system_prompt}] if system_prompt else []
    paired = _paired_call_ids(messages)
    for message in messages:
        role = message.get("role")
        items = message.get("content") or []
        if role in ("user", "system"):
            parts = _user_parts(message, _chat_part, "text")
            if not parts:
                continue
            if role == "system" or all(part["type"] == "text" for part in parts):
                # Plain strings are what every OpenAI-compatible server accepts.
                chat.append({"role": role, "content": "\n\n".join(p["text"] for p in parts)})
            else:
                chat.append({"role": role, "content": parts})
        elif role in ("assistant", "tool"):
            chat += _assistant_to_chat(items, paired)
    return chat


def _assistant_to_chat(items: list[dict], paired: set[str]) -> list[dict]:
    """An assistant reply: text and calls in assistant messages, each output a tool message."""
    chat = []
    turn = {"role": "assistant", "content": "", "tool_calls": []}

    def flush():
        if turn["content"] or turn["tool_calls"] or turn.get("refusal"):
            message = {"role": "assistant", "content": turn["content"] or None}
            if turn["tool_calls"]:
                message["tool_calls"] = turn["tool_calls"]
            if turn.get("refusal"):
                message["refusal"] = turn["refusal"]
            chat.append(message)
        turn.update(content="", tool_calls=[], refusal="")

    for item in items:
        kind = item.get("type")
        if kind in ("function_call", "function_call_output") and item.get("call_id") not in paired:
            continue
        if kind == "output_text":
            turn["content"] += _item_text(item)
        elif kind == "refusal":
            turn["refusal"] = turn.get("refusal", "") + item.get("refusal", "")
        elif kind == "function_call":
            turn["tool_calls"].append(
                {
                    "id": item.get("call_id", ""),
                    "type": "function",
                    "function": {"name": item.get("name", ""), "arguments": item.get("arguments")},
                }
            )
        elif kind == "function_call_output":
            flush()
            chat.append(
                {"role": "tool", "tool_call_id": item.get("call_id", ""), "content": item["output"]}
            )
    flush()
    return chat


def message_to_responses_input(messages: list[dict], *, system_prompt: str = "") -> list:
    """Our messages as Responses `input` items, for a stateless call (`store=False`)."""
    items = [{"role": "system", "content": system_prompt}] if system_prompt else []
    paired = _paired_call_ids(messages)
    for message in messages:
        role = message.get("role")
        content = message.get("content") or []
        if role in ("user", "system"):
            parts = _user_parts(message, _responses_part, "input_text")
            if parts:
                items.append({"role": role, "content": parts})
            continue
        if role not in ("assistant", "tool"):
            continue
        for item in content:
            kind = item.get("type")
            if (
                kind in ("function_call", "function_call_output")
                and item.get("call_id") not in paired
            ):
                continue
            if kind == "output_text" and item.get("text"):
                items.append({"role": "assistant", "content": item["text"]})
            elif kind == "refusal":
                items.append({"role": "assistant", "content": item.get("refusal", "")})
            elif kind == "function_call":
                items.append(
                    {
                        "type": "function_call",
                        "call_id": item.get("call_id", ""),
                        "name": item.get("name", ""),
                        "arguments": item.get("arguments", ""),
                    }
                )
            elif kind == "function_call_output":
                items.append(
                    {
                        "type": "function_call_output",
                        "call_id": item.get("call_id", ""),
                        "output": item.get("output", ""),
                    }
                )
            # Reasoning is not sent back: without `store` the server cannot resolve its id.
    return items


def message_to_plain_text_input(messages: list[dict], *, system_prompt: str = "") -> list:
    """Our messages as system, user and assistant messages of plain text, the only kind a
    small local model reads: the Chat Completions input without images, files and tools."""
    chat = []
    for message in message_to_chat_completion_input(messages, system_prompt=system_prompt):
        content = message["content"]
        if isinstance(content, list):
            content = "\n\n".join(part["text"] for part in content if part["type"] == "text")
        if message["role"] in ("system", "user", "assistant") and content:
            chat.append({"role": message["role"], "content": content})
    return chat
