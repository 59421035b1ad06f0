"""Stored rows to plain dicts, and content-item dicts to rows.

`message_to_dict` is the one shape of a message: the REST API returns it (with
the requesting user's feedback and the siblings added) and the websocket sends it.
The model reads its `role`, `content` and `references` (`llm/input.py`).
"""

from .models import ContentItem, Message, Reference
from .rendering import render_markdown

# The `format` and `version` of a conversation export (and what an import accepts).
EXPORT_FORMAT = "chatproject.conversation"
EXPORT_VERSION = 1

# Types whose main text lives in the `text` column under this key; every other
# field of an item (and every field of other types) lives in `data`.
TEXT_KEYS = {"input_text": "text", "output_text": "text", "refusal": "refusal"}


def iso(value) -> str | None:
    """A datetime as ISO 8601 text (UTC as `Z`), like DRF renders it."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def searchable_text(item: dict) -> str:
    """The text of an item worth searching (and counting towards the length limit)."""
    item_type = item.get("type")
    if item_type in TEXT_KEYS:
        value = item.get(TEXT_KEYS[item_type])
        return value if isinstance(value, str) else ""
    if item_type == "reasoning":
        parts = item.get("summary") or []
        return "\n".join(
            part["text"]
            for part in parts
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    if item_type == "function_call":
        return str(item.get("arguments") or "")
    if item_type == "function_call_output":
        output = item.get("output")
        return output if isinstance(output, str) else ""
    text = item.get("text")
    return text if isinstance(text, str) else ""


def storable(value):
    """`value` (text, or JSON made of lists and dicts) with what PostgreSQL cannot store,
    U+0000 and lone surrogates, replaced by U+FFFD: model and user text is kept, never
    refused or lost for a code point."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [storable(element) for element in value]
    if isinstance(value, dict):
        return {storable(key): storable(element) for key, element in value.items()}
    return value


def content_item_from_dict(
    item: dict, *, message: Message, index: int, render: bool = False
) -> ContentItem:
    """An unsaved row for a flat content-item dict; unknown types are kept as they are.
    `render` stores model text with its `html`, rendered once for every later read: for
    text that is final (not a running reply's, which is about to grow)."""
    item = storable(item)
    item_type = item["type"]
    # `html` is ours to render; one arriving from outside is never kept.
    data = {key: value for key, value in item.items() if key not in ("type", "html")}
    text_key = TEXT_KEYS.get(item_type)
    if text_key is not None and isinstance(data.get(text_key), str):
        text = data.pop(text_key)
    else:
        text = searchable_text(item)
    row = ContentItem(message=message, index=index, type=item_type, text=text, data=data)
    if render:
        row.html = item_html(row)
    return row


def content_item_to_dict(row: ContentItem) -> dict:
    """The flat dict of a stored item: `{"type", ...its fields}`."""
    return item_to_dict(row.type, row.text, row.data)


def item_to_dict(item_type: str, text: str, data: dict) -> dict:
    """The flat dict of an item stored as its `type`, `text` and `data` columns."""
    text_key = TEXT_KEYS.get(item_type)
    if text_key is not None and text_key not in data:
        return {"type": item_type, text_key: text, **data}
    return {"type": item_type, **data}


def reference_from_dict(reference: dict, *, message: Message, index: int) -> Reference:
    """An unsaved row for a reference dict."""
    reference = storable(reference)
    return Reference(
        message=message,
        index=index,
        type=reference.get("type") or "text",
        name=reference.get("name") or "",
        url=reference.get("url") or "",
        content=reference.get("content") or "",
    )


# A reference's fields, in the API shape as in its row.
REFERENCE_FIELDS = ("type", "name", "url", "content")


def reference_to_dict(row: Reference) -> dict:
    return {field: getattr(row, field) for field in REFERENCE_FIELDS}


def item_html(row: ContentItem) -> str:
    """The sanitized HTML of a stored item's model text ("" for other types)."""
    if row.type != "output_text":
        return ""
    text = content_item_to_dict(row).get("text")
    return render_markdown(text if isinstance(text, str) else "")


def rendered_item(row: ContentItem) -> dict:
    """A stored item as clients show it: model text with its `html`, as rendered when it
    was stored (rendered now only for text stored without, a running reply's)."""
    item = content_item_to_dict(row)
    if row.type == "output_text":
        item["html"] = row.html or item_html(row)
    return item


def message_to_dict(message: Message, *, rendered: bool = False) -> dict:
    """A message in the API shape, from its rows loaded as `content_rows` and
    `reference_rows` (`selectors.messages_with_content`, or `services.messages.prefetched`
    for rows just written). `rendered` adds `html` to model text for clients; never for
    the model or exports."""
    to_dict = rendered_item if rendered else content_item_to_dict
    content = [to_dict(item) for item in message.content_rows]
    return {
        "id": str(message.id),
        "parent_id": str(message.parent_id) if message.parent_id else None,
        "role": message.role,
        "status": message.status,
        "model": message.model,
        "content": content,
        "references": [reference_to_dict(ref) for ref in message.reference_rows],
        "error": message.error,
        "usage": message.usage,
        "flags": message.flags,
        "created_at": iso(message.created_at),
        "completed_at": iso(message.completed_at),
    }


def conversation_to_dict(conversation) -> dict:
    """A conversation's own fields in the API shape (without its messages)."""
    leaf = conversation.current_leaf_id
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "system_prompt": conversation.system_prompt,
        "model": conversation.model,
        "tools": conversation.tools,
        "context": conversation.context,
        "archived": conversation.archived,
        "current_leaf_id": str(leaf) if leaf else None,
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
    }


def feedback_to_dict(feedback) -> dict | None:
    if feedback is None:
        return None
    return {
        "rating": feedback.rating,
        "comment": feedback.comment,
        "reasons": feedback.reasons,
        "updated_at": iso(feedback.updated_at),
    }
