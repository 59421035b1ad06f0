"""The sidebar's search (issue 14, item 6)."""

from playwright.sync_api import expect

from tests.factories import make_conversation


def test_search_in_the_archived_view_searches_archived_chats(login, alice, server_url):
    make_conversation(alice, title="Old trip to Lisbon", archived=True)
    make_conversation(alice, title="New trip to Porto")
    page = login(alice, "alice-password")
    page.get_by_role("link", name="Archived").click()
    page.wait_for_url(f"{server_url}/?archived=1")
    page.fill("#search", "Porto")
    expect(page.locator("#conversation-list")).to_have_text("Nothing found.")
    page.fill("#search", "trip")
    expect(page.locator("#conversation-list li")).to_have_count(1)
    expect(page.locator("#conversation-list")).to_contain_text("Old trip to Lisbon")

    page.get_by_role("link", name="Conversations").click()
    page.fill("#search", "Lisbon")
    expect(page.locator("#conversation-list")).to_have_text("Nothing found.")
    page.fill("#search", "trip")
    expect(page.locator("#conversation-list li")).to_have_count(1)
    expect(page.locator("#conversation-list")).to_contain_text("New trip to Porto")
