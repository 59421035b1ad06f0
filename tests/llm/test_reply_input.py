"""What the model receives: the system prompt aside, the path root -> parent of the reply,
never sibling branches, with failed replies left out and attachments expanded."""

import base64

from django.core.files.base import ContentFile

from conversations import services
from conversations.llm.input import reply_input
from conversations.models import Attachment


def finish(reply, text, status="completed"):
    services.reply_finish(
        reply_id=reply.id, content=[{"type": "output_text", "text": text}], status=status
    )


def texts(messages):
    return [(m["role"], m["content"][0].get("text")) for m in messages]


def test_after_an_edit_the_model_gets_only_the_new_branch(alice):
    conversation = services.conversation_create(owner=alice)
    first, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="one"
    )
    finish(first, "answer one")
    second, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="two"
    )
    finish(second, "answer two")
    edited, _ = services.message_edit(message=second.parent, content="two, edited")
    assert texts(reply_input(reply=edited)) == [
        ("user", "one"),
        ("assistant", "answer one"),
        ("user", "two, edited"),
    ]


def test_a_reset_gets_the_same_question_without_the_old_answer(alice):
    conversation = services.conversation_create(owner=alice)
    first, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="one"
    )
    finish(first, "answer one")
    again, _ = services.message_reset(message=first)
    assert texts(reply_input(reply=again)) == [("user", "one")]


def test_failed_replies_are_left_out_and_partial_ones_kept(alice, settings):
    conversation = services.conversation_create(owner=alice)
    failed, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="one"
    )
    services.reply_finish(reply_id=failed.id, content=[], status="failed")
    cut, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="two"
    )
    finish(cut, "half", status="incomplete")
    reply, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="three"
    )
    assert texts(reply_input(reply=reply)) == [
        ("user", "one"),
        ("user", "two"),
        ("assistant", "half"),
        ("user", "three"),
    ]


def test_attachments_reach_the_model_as_data(alice):
    image = Attachment.objects.create(
        owner=alice,
        file=ContentFile(b"PNGDATA", name="cat.png"),
        name="cat.png",
        content_type="image/png",
        size=7,
    )
    document = Attachment.objects.create(
        owner=alice,
        file=ContentFile(b"hello", name="notes.txt"),
        name="notes.txt",
        content_type="text/plain",
        size=5,
    )
    conversation = services.conversation_create(owner=alice)
    reply, _ = services.message_continue(
        owner=conversation.owner,
        conversation_id=conversation.id,
        content="see",
        attachments=[image.id, document.id],
    )
    content = reply_input(reply=reply)[0]["content"]
    assert content[1] == {
        "type": "input_image",
        "image_url": "data:image/png;base64," + base64.b64encode(b"PNGDATA").decode(),
    }
    assert content[2] == {
        "type": "input_file",
        "filename": "notes.txt",
        "file_data": "data:text/plain;base64," + base64.b64encode(b"hello").decode(),
    }


def test_tool_calls_and_their_outputs_stay_in_the_branch(alice):
    conversation = services.conversation_create(owner=alice)
    first, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="time?"
    )
    calls = [
        {"type": "function_call", "call_id": "c1", "name": "current_time", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "noon"},
        {"type": "output_text", "text": "It is noon.", "annotations": []},
    ]
    services.reply_finish(reply_id=first.id, content=calls, status="completed")
    reply, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="thanks"
    )
    assert reply_input(reply=reply)[1]["content"] == calls


def test_references_quoted_turns_ago_still_reach_the_model_in_order(alice):
    conversation = services.conversation_create(owner=alice)
    quoted = [
        {"type": "text", "name": "Spec", "url": "https://s.example", "content": "first"},
        {"type": "text", "name": "Notes", "url": "", "content": "second"},
    ]
    first, _ = services.message_continue(
        owner=conversation.owner,
        conversation_id=conversation.id,
        content="compare these",
        references=quoted,
    )
    finish(first, "they differ")
    reply, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="how?"
    )
    messages = reply_input(reply=reply)
    assert [m["references"] for m in messages] == [quoted, [], []]
    assert texts(messages) == [
        ("user", "compare these"),
        ("assistant", "they differ"),
        ("user", "how?"),
    ]
