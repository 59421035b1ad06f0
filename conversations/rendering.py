"""Markdown to safe HTML, on the server: model output and user text are untrusted."""

from functools import lru_cache

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

MATHML_TAGS = {
    "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace",
    "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot", "mstyle", "mpadded", "mphantom",
    "menclose", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mfenced",
}  # fmt: skip
MATHML_ATTRIBUTES = {
    "display", "xmlns", "mathvariant", "stretchy", "fence", "separator", "accent",
    "accentunder", "columnalign", "rowalign", "columnspacing", "rowspacing", "width",
    "lspace", "rspace", "linethickness", "notation", "open", "close", "separators",
    "displaystyle", "scriptlevel", "movablelimits", "largeop", "symmetric", "minsize",
    "maxsize", "encoding",
}  # fmt: skip
ALLOWED_TAGS = nh3.ALLOWED_TAGS | MATHML_TAGS | {"button", "div", "span", "pre", "code"}
ALLOWED_ATTRIBUTES = {
    **{tag: {"class"} for tag in ("div", "span", "pre", "code", "button", "td", "th")},
    "a": {"href", "title"},
    "button": {"class", "type", "aria-label"},
    "ol": {"start"},
    **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS},
}


def _highlight_code(code: str, language: str) -> str:
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return f'<pre class="highlight"><code>{escapeHtml(code)}</code></pre>'
    return highlight(code, lexer, HtmlFormatter(cssclass="highlight", wrapcode=True))


def _render_fence(self, tokens, idx, options, env):
    token = tokens[idx]
    language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    label = escapeHtml(language or "text")
    return (
        '<div class="codeblock"><div class="codeblock-head">'
        f'<span class="codeblock-lang">{label}</span>'
        '<button type="button" class="copy-code" aria-label="Copy code">Copy</button>'
        f"</div>{_highlight_code(token.content, language)}</div>"
    )


def _render_cell(self, tokens, idx, options, env):
    # Column alignment as a class (align-left, align-center, align-right): the pages'
    # Content-Security-Policy refuses style attributes.
    token = tokens[idx]
    align = str(token.attrs.pop("style", "")).removeprefix("text-align:")
    if align:
        token.attrSet("class", f"align-{align}")
    return self.renderToken(tokens, idx, options, env)


def _render_math(content: str, options: dict) -> str:
    display = "block" if options.get("display_mode") else "inline"
    try:
        return latex_to_mathml(content, display=display)
    except Exception:
        # Anything latex2mathml cannot parse is shown as the source the model wrote.
        return f"<code>{escapeHtml(content)}</code>"


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # Raw HTML in the source is shown as text, and images become plain links:
    # an image URL in model output is a way to leak the conversation.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    md.disable("image")
    md.use(dollarmath_plugin, allow_digits=False, double_inline=True, renderer=_render_math)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_fence)
    md.add_render_rule("th_open", _render_cell)
    md.add_render_rule("td_open", _render_cell)
    return md


def render_markdown(text: str) -> str:
    """Render untrusted markdown to sanitized HTML: code highlighted, math as MathML."""
    html = _markdown().render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
