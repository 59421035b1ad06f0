"""A Responses API request (`POST /v1/responses`) stored in the message tree.

`previous_response_id` continues from that reply: the input goes under it, beside any
continuation it already has (a branch, as an edit makes). `conversation` appends to the
conversation's shown branch. Neither: a new conversation. The stored reply's id is the
response's id.
"""

from ..content import parse_user_content
from ..errors import GenerationBusy, InvalidContent
from ..models import Conversation, Message
from .chat_completions import SYSTEM_ROLES, content_text, turns_store

UNFINISHED = (Message.Status.QUEUED, Message.Status.IN_PROGRESS)


def _message_turn(item: dict, where: str, owner) -> tuple[str, list[dict]]:
    role, content = item.get("role"), item.get("content")
    if role == "user":
        try:
            return role, parse_user_content(content, owner_id=owner.pk)
        except InvalidContent as exc:
            raise InvalidContent(exc.detail, param=f"{where}.content") from None
    if role in SYSTEM_ROLES:
        return role, [{"type": "input_text", "text": content_text(content, f"{where}.content")}]
    if role == "assistant":
        text = content_text(content, f"{where}.content")
        return role, [{"type": "output_text", "text": text, "annotations": []}] if text else []
    raise InvalidContent(
        f"{where}.role must be one of user, assistant, system, developer.", param=f"{where}.role"
    )


def input_turns(value, owner, *, field: str = "input") -> list[tuple[str, list[dict]]]:
    """`(role, items)` turns of a request's `input` (or other `field` of items): a string
    (the user's text), or items (messages, function calls and their outputs; reasoning
    items sent back are skipped, the stored reply keeps its own)."""
    if isinstance(value, str):
        return [("user", parse_user_content(value, owner_id=owner.pk))]
    if not isinstance(value, list) or not value:
        raise InvalidContent(f"{field} must be a string or a non-empty list of items.", param=field)
    turns = []
    for position, item in enumerate(value):
        where = f"{field}[{position}]"
        kind = item.get("type", "message") if isinstance(item, dict) else None
        if kind == "message":
            turns.append(_message_turn(item, where, owner))
        elif kind == "function_call":
            if not isinstance(item.get("name"), str) or not isinstance(item.get("call_id"), str):
                raise InvalidContent(f"{where} needs a name and a call_id.", param=where)
            call = {
                "type": "function_call",
                "call_id": item["call_id"],
                "name": item["name"],
                "arguments": str(item.get("arguments") or ""),
            }
            # A reply's calls follow its text: one assistant turn holds them all.
            if turns and turns[-1][0] == "assistant":
                turns[-1][1].append(call)
            else:
                turns.append(("assistant", [call]))
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str) or not item["call_id"]:
                raise InvalidContent(f"{where}.call_id is required.", param=f"{where}.call_id")
            output = content_text(item.get("output"), f"{where}.output")
            turns.append(
                (
                    "tool",
                    [
                        {
                            "type": "function_call_output",
                            "call_id": item["call_id"],
                            "output": output,
                        }
                    ],
                )
            )
        elif kind != "reasoning":
            raise InvalidContent(
                f"{where}.type {kind!r} is not supported: use message, function_call or "
                "function_call_output.",
                param=f"{where}.type",
            )
    return turns


def _chat_tools(tools: list | None) -> list | None:
    """The Responses API's function tools in the Chat Completions shape the conversation
    keeps (`client_tools`)."""
    if tools is None:
        return None
    chat_tools = []
    for position, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function" or not tool.get("name"):
            raise InvalidContent(
                f"tools[{position}] must be a function tool with a name: other tools are not "
                "offered here.",
                param=f"tools[{position}]",
            )
        keys = ("name", "description", "parameters", "strict")
        function = {key: tool[key] for key in keys if tool.get(key) is not None}
        chat_tools.append({"type": "function", "function": function})
    return chat_tools


def response_start(
    *,
    owner,
    input,
    instructions: str | None = None,
    model: str = "",
    tools: list | None = None,
    conversation: Conversation | None = None,
    previous: Message | None = None,
    store: bool = True,
) -> tuple[Conversation, Message]:
    """Store a Responses request's input as the module says, and the reply to write;
    returns `(conversation, reply)`, the reply `in_progress` or `queued` (the caller hands
    it to `generation.reply_start`).

    `instructions` is the conversation's system prompt (its input's system and developer
    messages too); `tools` its client's function tools. `previous` (a reply of the
    owner's, found by the caller) and `conversation` exclude each other. `store` False:
    a conversation of its own, archived, for the caller to delete once the reply ended.
    """
    if previous is not None and conversation is not None:
        raise InvalidContent(
            "previous_response_id cannot be used together with conversation.",
            param="previous_response_id",
        )
    if not store and (previous is not None or conversation is not None):
        raise InvalidContent(
            "store: false keeps nothing, so it cannot continue a stored conversation.",
            param="store",
        )
    if previous is not None and previous.role != Message.Role.ASSISTANT:
        raise InvalidContent(
            "previous_response_id names no response.", param="previous_response_id"
        )
    turns = input_turns(input, owner)
    if instructions:
        turns.insert(0, ("system", [{"type": "input_text", "text": instructions}]))

    def parent_for(locked: Conversation, turns) -> tuple[Message | None, int]:
        if previous is None:
            return locked.current_leaf, 0
        # Read again under the conversation's lock: a cancel or delete may have come.
        current = Message.objects.filter(id=previous.id).first()
        if current is None:
            raise InvalidContent("The previous response was deleted.", param="previous_response_id")
        if current.status in UNFINISHED:
            raise GenerationBusy(
                "The previous response is still being written: wait for it, or cancel it."
            )
        return current, 0

    return turns_store(
        owner=owner,
        turns=turns,
        model=model,
        tools=_chat_tools(tools),
        conversation=previous.conversation if previous is not None else conversation,
        store=store,
        parent_for=parent_for,
        where="input",
    )
