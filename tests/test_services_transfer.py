import pytest

from conversations import selectors, services
from conversations.errors import InvalidImport
from conversations.llm.input import conversation_export_openai


def normalized(export: dict) -> dict:
    """The export with ids replaced by their position, and the export time dropped."""
    positions = {m["id"]: str(i) for i, m in enumerate(export["messages"])}
    messages = [
        {**m, "id": positions[m["id"]], "parent_id": positions.get(m["parent_id"])}
        for m in export["messages"]
    ]
    conversation = {
        **export["conversation"],
        "current_leaf_id": positions.get(export["conversation"]["current_leaf_id"]),
    }
    return {**export, "exported_at": None, "conversation": conversation, "messages": messages}


@pytest.fixture
def rich(alice):
    conversation = services.conversation_create(
        owner=alice, title="Rich", system_prompt="Be kind.", context={"lang": "en"}
    )
    reply, _ = services.message_continue(
        owner=conversation.owner,
        conversation_id=conversation.id,
        content=[
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": "https://example.com/a.png"},
        ],
        references=[{"type": "text", "name": "notes", "content": "quoted"}],
    )
    services.reply_finish(
        reply_id=reply.id,
        content=[
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
            {"type": "output_text", "text": "A cat.", "annotations": []},
            {"type": "plan", "steps": ["x"]},
        ],
        status="completed",
        usage={"input_tokens": 5, "output_tokens": 2, "reasoning_tokens": 1},
    )
    services.feedback_set(message=reply, user=alice, rating="good", reasons=["accurate"])
    again, _ = services.message_reset(message=reply)
    services.reply_finish(
        reply_id=again.id,
        content=[{"type": "output_text", "text": "Half"}],
        status="incomplete",
        error={"code": "upstream_cut", "message": "cut"},
    )
    conversation.refresh_from_db()
    return conversation


def test_export_then_import_is_lossless(rich, bob):
    export = selectors.conversation_export(conversation=rich)
    assert export["format"] == "chatproject.conversation"
    assert export["version"] == 1
    assert len(export["messages"]) == 3
    copy = services.conversation_import(owner=bob, data=export)
    assert copy.owner == bob
    assert copy.id != rich.id
    assert normalized(selectors.conversation_export(conversation=copy)) == normalized(export)


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"format": "other"},
        {"format": "chatproject.conversation", "version": 99},
        {"format": "chatproject.conversation", "version": 1, "conversation": {}},
        {
            "format": "chatproject.conversation",
            "version": 1,
            "conversation": {},
            "messages": [{"id": "a", "parent_id": "missing", "role": "user"}],
        },
        {
            "format": "chatproject.conversation",
            "version": 1,
            "conversation": {},
            "messages": [{"id": "a", "role": "wizard"}],
        },
        {
            "format": "chatproject.conversation",
            "version": 1,
            "conversation": {},
            "messages": [{"id": "a", "role": "user", "content": [{"text": "no type"}]}],
        },
    ],
)
def test_import_refuses_what_it_cannot_read(alice, data):
    with pytest.raises(InvalidImport):
        services.conversation_import(owner=alice, data=data)


def test_export_lists_parents_before_children_whatever_their_timestamps(alice, bob):
    export = {
        "format": "chatproject.conversation",
        "version": 1,
        "conversation": {"title": "Odd clocks"},
        "messages": [
            {"id": "q", "role": "user", "created_at": "2026-01-02T00:00:00Z"},
            {
                "id": "a",
                "parent_id": "q",
                "role": "assistant",
                "created_at": "2026-01-01T00:00:00Z",
            },
        ],
    }
    first = services.conversation_import(owner=alice, data=export)
    again = services.conversation_import(
        owner=bob, data=selectors.conversation_export(conversation=first)
    )
    roles = [m["role"] for m in selectors.conversation_export(conversation=again)["messages"]]
    assert roles == ["user", "assistant"]


def test_import_refuses_repeated_ids(alice):
    export = {
        "format": "chatproject.conversation",
        "version": 1,
        "conversation": {},
        "messages": [{"id": "x", "role": "user"}, {"id": "x", "role": "user"}],
    }
    with pytest.raises(InvalidImport):
        services.conversation_import(owner=alice, data=export)


def test_openai_export_is_the_current_branch_in_chat_format(rich):
    chat = conversation_export_openai(conversation=rich)
    assert chat[0] == {"role": "system", "content": "Be kind."}
    assert chat[1] == {"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "auto"}},
        {"type": "text", "text": "Reference: notes\n\nquoted"},  # as the model reads it
    ]}  # fmt: skip
    assert chat[2] == {"role": "assistant", "content": "Half"}
    assert len(chat) == 3
