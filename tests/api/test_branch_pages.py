"""A long conversation is read a page at a time: the detail holds the branch's last page,
`GET branch/?before=` the earlier ones, each in a fixed number of queries."""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.rendering import render_markdown
from tests.factories import make_branch, make_conversation, make_message


@pytest.fixture
def long_conversation(alice):
    conversation = make_conversation(alice, title="Long")
    return conversation, make_branch(conversation, 1000)


def ids(messages) -> list[str]:
    return [str(message.id) for message in messages]


def test_the_detail_of_a_long_conversation_is_the_last_page_of_its_branch(api, long_conversation):
    conversation, branch = long_conversation
    body = api.get(f"/api/conversations/{conversation.id}/").json()
    assert [m["id"] for m in body["messages"]] == ids(branch[-50:])
    assert body["has_more"] is True
    assert body["current_leaf_id"] == str(branch[-1].id)
    answer = body["messages"][-1]["content"][0]
    assert answer == {"type": "output_text", "text": "Answer **999**", "html": answer["html"]}
    assert answer["html"] == render_markdown("Answer **999**")

    body = api.get(f"/api/conversations/{conversation.id}/?limit=200").json()
    assert [m["id"] for m in body["messages"]] == ids(branch[-200:])


def test_earlier_pages_chain_back_to_the_root_without_gaps_or_repeats(api, long_conversation):
    conversation, branch = long_conversation
    url = f"/api/conversations/{conversation.id}/branch/"
    page = api.get(url, {"limit": 70}).json()
    seen = [m["id"] for m in page["messages"]]
    while page["has_more"]:
        page = api.get(url, {"limit": 70, "before": seen[0]}).json()
        seen[:0] = [m["id"] for m in page["messages"]]
    assert seen == ids(branch)
    assert len(page["messages"]) == 1000 % 70
    assert api.get(url, {"before": str(branch[0].id)}).json() == {
        "messages": [],
        "has_more": False,
    }


def test_a_page_shows_only_its_path_and_every_messages_siblings(api, alice):
    conversation = make_conversation(alice)
    first = make_message(conversation, text="first question")
    first_edited = make_message(conversation, text="first question, edited")
    branch = make_branch(conversation, 10, parent=first)
    reset = make_message(conversation, branch[4], role="assistant", text="answer again")
    url = f"/api/conversations/{conversation.id}/branch/"

    earlier = api.get(url, {"limit": 4, "before": str(branch[6].id)}).json()
    assert [m["id"] for m in earlier["messages"]] == ids(branch[2:6])
    assert earlier["has_more"] is True
    siblings = {m["id"]: m["sibling_ids"] for m in earlier["messages"]}
    assert siblings[str(branch[5].id)] == ids([branch[5], reset])
    assert siblings[str(branch[2].id)] == ids([branch[2]])

    top = api.get(url, {"limit": 4, "before": str(branch[2].id)}).json()
    assert [m["id"] for m in top["messages"]] == ids([first, *branch[:2]])
    assert top["has_more"] is False
    assert top["messages"][0]["sibling_ids"] == ids([first, first_edited])


@pytest.mark.parametrize("limit", ["0", "201", "many", "-1"])
def test_a_limit_out_of_range_is_a_400(api, alice, limit):
    conversation = make_conversation(alice)
    for url in (
        f"/api/conversations/{conversation.id}/",
        f"/api/conversations/{conversation.id}/branch/",
    ):
        response = api.get(url, {"limit": limit})
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "invalid"
        assert "limit" in response.json()["fields"]


def test_before_must_be_a_message_of_the_same_conversation(api, alice, bob):
    conversation = make_conversation(alice)
    mine = make_message(conversation)
    elsewhere = make_message(make_conversation(alice))
    bobs = make_message(make_conversation(bob))
    url = f"/api/conversations/{conversation.id}/branch/"
    assert api.get(url, {"before": str(mine.id)}).status_code == 200
    for before in (elsewhere.id, bobs.id, "not-a-uuid", "\x00"):
        response = api.get(url, {"before": str(before)})
        assert response.status_code == 404, (before, response.content)
        assert response.json()["code"] == "not_found"


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_reads_take_as_many_queries_for_1000_messages_as_for_10(api, alice):
    short, long = make_conversation(alice), make_conversation(alice)
    short_branch, long_branch = make_branch(short, 10), make_branch(long, 1000)
    for url in (
        "/api/conversations/{id}/",
        "/api/conversations/{id}/branch/",
        "/api/conversations/{id}/branch/?before={before}",
        "/c/{id}/",
    ):
        few = queries(api, url.format(id=short.id, before=short_branch[5].id))
        assert queries(api, url.format(id=long.id, before=long_branch[500].id)) == few, url


def test_the_list_takes_as_many_queries_for_300_conversations_as_for_3(api, alice):
    for _ in range(3):
        make_branch(make_conversation(alice), 4)
    few = queries(api, "/api/conversations/"), queries(api, "/")
    for _ in range(297):
        make_branch(make_conversation(alice), 4)
    assert (queries(api, "/api/conversations/"), queries(api, "/")) == few


def test_the_chat_page_embeds_the_first_page(api, long_conversation):
    conversation, branch = long_conversation
    page = api.get(f"/c/{conversation.id}/").content.decode()
    embedded = re.search(r'<script id="chat-data" type="application/json">(.*?)</script>', page)
    data = json.loads(embedded.group(1))["conversation"]
    assert [m["id"] for m in data["messages"]] == ids(branch[-50:])
    assert data["has_more"] is True
