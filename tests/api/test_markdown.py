"""POST /api/markdown/: the server's rendering of a reply still being written."""


def test_markdown_is_rendered_and_sanitized_as_replies_are(api):
    text = "**bold** <script>alert(1)</script>\n\n| a | b |\n|--:|---|\n| 1 | 2 |\n"
    response = api.post("/api/markdown/", {"text": text}, format="json")
    assert response.status_code == 200
    html = response.json()["html"]
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<td class="align-right">1</td>' in html


def test_an_unfinished_code_fence_is_shown_as_code(api):
    html = api.post("/api/markdown/", {"text": "Look:\n\n```python\ndef f("}, format="json").json()
    assert '<div class="codeblock">' in html["html"]
    assert "def" in html["html"]


def test_markdown_needs_a_login(anon):
    assert anon.post("/api/markdown/", {"text": "x"}, format="json").status_code in (401, 403)
