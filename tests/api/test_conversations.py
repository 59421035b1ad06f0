import json

import pytest
from django.db import connection

from conversations import services
from conversations.models import Conversation
from tests.factories import make_conversation, make_message


def test_create_and_get_a_conversation(api, alice):
    response = api.post(
        "/api/conversations/",
        {"title": "Plans", "system_prompt": "Be brief.", "context": {"tz": "UTC"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["title"] == "Plans"
    assert body["messages"] == []
    conversation = Conversation.objects.get(id=body["id"])
    assert conversation.owner == alice
    detail = api.get(f"/api/conversations/{conversation.id}/").json()
    assert detail["system_prompt"] == "Be brief."
    assert detail["context"] == {"tz": "UTC"}


def test_new_conversation_shows_the_welcome_message_and_hints(api, settings):
    settings.CHAT_WELCOME_MESSAGE = "Hello! How can I help?"
    settings.CHAT_HINTS = ["Plan a trip", "Explain recursion"]
    body = api.post("/api/conversations/", {}, format="json").json()
    assert [m["content"] for m in body["messages"]] == [
        [
            {
                "type": "output_text",
                "text": "Hello! How can I help?",
                "html": "<p>Hello! How can I help?</p>\n",
            }
        ]
    ]
    assert body["hints"] == ["Plan a trip", "Explain recursion"]


def test_list_is_paginated_newest_first_and_only_mine(api, alice, bob):
    for n in range(3):
        make_conversation(alice, title=f"mine {n}")
    make_conversation(bob, title="not mine")
    body = api.get("/api/conversations/?page_size=2").json()
    assert [c["title"] for c in body["results"]] == ["mine 2", "mine 1"]
    rest = api.get(body["next"]).json()
    assert [c["title"] for c in rest["results"]] == ["mine 0"]


def test_search_finds_titles_and_message_text(api, alice, bob):
    trip = make_conversation(alice, title="Holiday")
    make_message(trip, text="Which trains run to the mountains?")
    make_conversation(alice, title="Recipes for dinner")
    mine_elsewhere = make_conversation(bob, title="Trains of bob")
    make_message(mine_elsewhere, text="trains everywhere")

    def titles(query):
        return [c["title"] for c in api.get("/api/conversations/", {"q": query}).json()["results"]]

    assert titles("trains") == ["Holiday"]
    assert titles("recipes") == ["Recipes for dinner"]
    assert titles("nothing-like-this") == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search")
def test_search_on_postgresql_matches_word_forms_and_phrases(api, alice):
    conversation = make_conversation(alice, title="Untitled")
    make_message(conversation, text="The trains were running late in the mountains.")
    make_conversation(alice, title="Other")

    def titles(query):
        return [c["title"] for c in api.get("/api/conversations/", {"q": query}).json()["results"]]

    assert titles("train") == ["Untitled"]
    assert titles('"running late"') == ["Untitled"]
    assert titles('"late running"') == []


def test_patch_renames_archives_and_merges_context(api, alice):
    conversation = make_conversation(alice, title="Old", context={"a": 1, "b": 2})
    url = f"/api/conversations/{conversation.id}/"
    body = api.patch(url, {"title": "New", "context": {"b": None, "c": 3}}, format="json").json()
    assert body["title"] == "New"
    assert body["context"] == {"a": 1, "c": 3}
    api.patch(url, {"archived": True}, format="json")
    assert api.get("/api/conversations/").json()["results"] == []
    archived = api.get("/api/conversations/?archived=1").json()["results"]
    assert [c["id"] for c in archived] == [str(conversation.id)]


def test_delete_a_conversation(api, alice):
    conversation = make_conversation(alice)
    make_message(conversation)
    assert api.delete(f"/api/conversations/{conversation.id}/").status_code == 204
    assert not Conversation.objects.filter(id=conversation.id).exists()


def test_bad_fields_answer_400_with_a_code_and_a_message(api):
    response = api.post("/api/conversations/", {"title": "x" * 201}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"].startswith("title:")


ODD = "a\x00b\udc00c"  # U+0000 and a lone surrogate, as JSON's \u escapes can carry them
KEPT = "a\ufffdb\ufffdc"


def test_nul_and_lone_surrogates_in_fields_are_stored_as_replacement_characters(api):
    fields = {"title": ODD, "system_prompt": ODD, "model": ODD}
    created = api.post(
        "/api/conversations/",
        json.dumps({**fields, "tools": [{"name": ODD}], "context": {ODD: ODD}}),
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    url = f"/api/conversations/{created.json()['id']}/"
    patched = api.patch(
        url, json.dumps({**fields, "context": {"more": [ODD]}}), content_type="application/json"
    )
    assert patched.status_code == 200, patched.json()
    body = api.get(url).json()
    assert [body[name] for name in fields] == [KEPT, KEPT, KEPT]
    assert body["tools"] == [{"name": KEPT}]
    assert body["context"] == {KEPT: KEPT, "more": [KEPT]}
    assert api.get("/api/conversations/", {"q": "\x00"}).status_code == 200


def test_context_json_that_cannot_be_stored_is_400_and_keeps_the_old_one(api, alice):
    conversation = make_conversation(alice, context={"kept": 1})
    for value in ("[" * 900 + "]" * 900, "1e400"):
        response = api.patch(
            f"/api/conversations/{conversation.id}/",
            f'{{"context": {{"new": {value}}}}}',
            content_type="application/json",
        )
        assert response.status_code == 400
        assert response.json()["code"] == "malformed_json"
    assert api.get(f"/api/conversations/{conversation.id}/").json()["context"] == {"kept": 1}


def grow(conversation, turns):
    parent = conversation.current_leaf
    for n in range(turns):
        question = make_message(conversation, parent, role="user", text=f"q{n}")
        parent = make_message(conversation, question, role="assistant", text=f"a{n}")
        # A second branch at every step, so the tree is wider than the branch.
        make_message(conversation, question, role="assistant", text=f"a{n} again")
    conversation.current_leaf = parent
    conversation.save()


@pytest.mark.parametrize("turns", [1, 25])
def test_query_counts_do_not_grow_with_data(api, alice, turns, django_assert_max_num_queries):
    conversations = [make_conversation(alice, title=f"c{n}") for n in range(turns)]
    grow(conversations[0], turns)
    services.feedback_set(message=conversations[0].current_leaf, user=alice, rating="good")
    with django_assert_max_num_queries(5):
        assert api.get("/api/conversations/").status_code == 200
    with django_assert_max_num_queries(5):
        assert api.get("/api/conversations/", {"q": "q1"}).status_code == 200
    with django_assert_max_num_queries(10):
        body = api.get(f"/api/conversations/{conversations[0].id}/").json()
    assert len(body["messages"]) == 2 * turns
    with django_assert_max_num_queries(10):
        body = api.get(f"/api/conversations/{conversations[0].id}/messages/").json()
    assert len(body["messages"]) == 3 * turns


def test_a_refused_first_message_creates_no_conversation(api, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 10
    response = api.post(
        "/api/conversations/",
        {"title": "Never", "message": {"content": "far over ten characters"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "content_too_long"
    response = api.post("/api/conversations/", {"message": {"content": ""}}, format="json")
    assert response.json()["code"] == "empty_content"
    assert not Conversation.objects.exists()


def test_a_first_message_over_the_rate_creates_no_conversation(api, settings):
    settings.CHAT_GENERATION_RATE = "0/min"
    response = api.post("/api/conversations/", {"message": {"content": "Hi"}}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert not Conversation.objects.exists()
