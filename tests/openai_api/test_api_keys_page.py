import re

import openai
import pytest
from playwright.sync_api import expect


def test_the_api_keys_page_shows_a_new_key_once_and_revokes_it(
    login, alice, server_url, fake_openai
):
    page = login(alice, "alice-password")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server_url)

    page.get_by_role("link", name="API keys").click()
    page.wait_for_url(f"{server_url}/keys/")
    expect(page.locator("#keys-empty")).to_be_visible()
    page.fill("#key-name", "My script")
    page.get_by_role("button", name="Create key").click()

    shown = page.locator("#new-key-value")
    expect(shown).to_have_text(re.compile(r"^sk-chat-\S{20,}$"))
    secret = shown.text_content()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    row = page.locator("#keys-body tr", has_text="My script")
    expect(row).to_contain_text("Active")
    client = openai.OpenAI(base_url=f"{server_url}/v1", api_key=secret, max_retries=0)
    assert client.models.list().data[0].id == "fake-model"

    # Shown once: the page, reloaded, lists the key without its secret.
    page.reload()
    expect(row).to_contain_text(secret[:12])
    expect(page.locator("#new-key")).to_be_hidden()
    assert secret not in page.content()

    row.get_by_role("button", name="Revoke My script").click()
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
