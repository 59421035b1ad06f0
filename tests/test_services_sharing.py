from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from conversations import selectors, services
from conversations.errors import InvalidShare
from conversations.models import Share


@pytest.fixture
def conversation(alice):
    conversation = services.conversation_create(owner=alice, title="Secret title")
    for text in ("one", "two"):
        reply, _ = services.message_continue(
            owner=conversation.owner, conversation_id=conversation.id, content=text
        )
        services.reply_finish(
            reply_id=reply.id,
            content=[{"type": "output_text", "text": text + "!"}],
            status="completed",
        )
    conversation.refresh_from_db()
    return conversation


def test_share_is_a_snapshot_of_the_branch_up_to_a_message(conversation, alice):
    share = services.share_create(conversation=conversation, user=alice)
    assert len(share.token) >= 43
    later, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="three"
    )
    public = selectors.share_public_dict(share=selectors.share_get_public(token=share.token))
    assert [m["content"][0]["text"] for m in public["messages"]] == ["one", "one!", "two", "two!"]
    assert later.id not in [m["id"] for m in public["messages"]]
    assert "owner" not in public and "feedback" not in public["messages"][0]


def test_share_of_a_selection(conversation, alice):
    path = selectors.conversation_branch(conversation=conversation)
    share = services.share_create(
        conversation=conversation, user=alice, selected=[path[2].id, path[3].id]
    )
    public = selectors.share_public_dict(share=share)
    assert [m["content"][0]["text"] for m in public["messages"]] == ["two", "two!"]


def test_selection_outside_the_branch_is_refused(conversation, alice):
    other = services.conversation_create(owner=alice)
    stranger, _ = services.message_continue(
        owner=other.owner, conversation_id=other.id, content="x"
    )
    with pytest.raises(InvalidShare):
        services.share_create(conversation=conversation, user=alice, selected=[stranger.id])
    with pytest.raises(InvalidShare):
        services.share_create(conversation=other, user=alice, message=conversation.current_leaf)


def test_revoked_and_expired_shares_are_gone(conversation, alice):
    share = services.share_create(conversation=conversation, user=alice)
    services.share_revoke(share=share, reason="Revoked by its owner.")
    with pytest.raises(Http404):
        selectors.share_get_public(token=share.token)
    short = services.share_create(
        conversation=conversation, user=alice, expires_at=timezone.now() + timedelta(seconds=1)
    )
    short.expires_at = timezone.now() - timedelta(seconds=1)
    short.save(update_fields=["expires_at"])
    with pytest.raises(Http404):
        selectors.share_get_public(token=short.token)
    with pytest.raises(InvalidShare):
        services.share_create(
            conversation=conversation, user=alice, expires_at=timezone.now() - timedelta(days=1)
        )


def test_a_share_whose_message_is_gone_is_a_404_even_unrevoked(conversation, alice):
    share = services.share_create(conversation=conversation, user=alice)
    # As a share made while its conversation was being deleted would be left.
    Share.objects.filter(id=share.id).update(message=None, conversation=None)
    with pytest.raises(Http404):
        selectors.share_get_public(token=share.token)
