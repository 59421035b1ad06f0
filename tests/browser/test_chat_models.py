"""The model picker, a spent quota and the usage panel in Chromium against the live app."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations.models import Conversation, Message, ModelOption, TokenUsage
from tests.browser.test_chat_ui import send
from tests.factories import make_conversation

REPLY = 'article.assistant[data-status="completed"]'


@pytest.fixture
def upstream(fake_openai):
    fake_openai.models = ["fake-model", "big-model"]
    ModelOption.objects.create(model="fake-model", display_name="Fake", position=1)
    ModelOption.objects.create(model="big-model", display_name="Big", position=2)
    return fake_openai


def test_the_model_chosen_writes_the_reply_and_regenerate_can_pick_another(
    login, alice, upstream, server_url
):
    upstream.reply(text="Big answer")
    upstream.reply(text="Fake answer")
    page = login(alice, "alice-password")
    picker = page.get_by_label("Model", exact=True)
    expect(picker).to_be_enabled()
    expect(picker.locator("option")).to_have_text(["Fake", "Big"])
    expect(picker).to_have_value("fake-model")

    picker.select_option(label="Big")
    send(page, "Hello")
    reply = page.locator(REPLY).last
    expect(reply).to_contain_text("Big answer")
    expect(reply.locator(".model-name")).to_have_text("big-model")

    picker.select_option(label="Fake")
    reply.get_by_role("button", name="Regenerate").click()
    expect(page.locator(REPLY).last).to_contain_text("Fake answer")
    expect(page.locator(REPLY).last.locator(".model-name")).to_have_text("fake-model")
    assert [r.body["model"] for r in upstream.model_requests()] == ["big-model", "fake-model"]

    # The conversation remembers the model last chosen.
    page.goto(f"{server_url}/c/{Conversation.objects.get().id}/")
    expect(page.get_by_label("Model", exact=True)).to_have_value("fake-model")


def test_a_spent_quota_says_when_it_resets_and_keeps_the_draft(login, alice, settings, server_url):
    settings.CHAT_DAILY_TOKEN_QUOTA = 100
    TokenUsage.objects.create(user=alice, input_tokens=80, output_tokens=20)
    conversation = make_conversation(alice, title="Earlier")
    page = login(alice, "alice-password")

    send(page, "A new conversation")
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("daily quota of 100 tokens")
    expect(notice).to_contain_text("you can chat again in")
    expect(page.locator("#composer-input")).to_have_value("A new conversation")

    page.goto(f"{server_url}/c/{conversation.id}/")
    send(page, "In an old one")
    expect(page.locator("#notice")).to_contain_text("daily quota of 100 tokens")
    expect(page.locator("#composer-input")).to_have_value("In an old one")
    assert Conversation.objects.count() == 1
    assert not Message.objects.exists()


def test_the_usage_panel_shows_the_quota_and_tokens_by_model(login, alice, settings):
    settings.CHAT_DAILY_TOKEN_QUOTA = 1000
    TokenUsage.objects.create(user=alice, model="big-model", input_tokens=200, output_tokens=50)
    TokenUsage.objects.create(
        user=alice,
        model="fake-model",
        input_tokens=30,
        output_tokens=12,
        created_at=timezone.now() - timedelta(days=3),
    )
    page = login(alice, "alice-password")

    page.get_by_role("button", name="Usage").click()

    dialog = page.get_by_role("dialog", name="Usage")
    expect(dialog.locator("#usage-quota")).to_have_text(
        "250 tokens of your 1,000 tokens a day used in the last 24 hours; 750 tokens left."
    )
    expect(dialog.locator("dd").first).to_contain_text("250 tokens")
    expect(dialog.locator("dd").nth(1)).to_contain_text("292 tokens")
    rows = dialog.locator(".usage-models tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_text("big-model20050250")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
