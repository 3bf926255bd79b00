"""moodlab.ui.text.plain: text from outside renders as itself in Streamlit's Markdown."""

import pytest
from streamlit.testing.v1 import AppTest

from moodlab.ui.text import JOINER, plain

PAYLOADS = [
    "![b](http://127.0.0.1:9/beacon)",
    "[link](http://127.0.0.1:9/clicked)",
    "<img src=http://127.0.0.1:9/b2>",
    ":red[alarm] :material/home: $x^2$ **bold** _it_ `code`",
    "# heading\n- item\n> quote",
    "www.example.org and someone@example.org",
    "&lt;b&gt; \\* back\\slash",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_escaped_text_reads_back_as_the_same_characters(payload):
    import markdown_it  # what a CommonMark reader makes of it

    rendered = markdown_it.MarkdownIt("commonmark").renderInline(plain(payload))
    assert "<a" not in rendered and "<img" not in rendered and "<em>" not in rendered
    import html

    shown = html.unescape(rendered.replace("<br />\n", "\n")).replace(JOINER, "")
    assert shown == "\n".join(line.strip() for line in payload.split("\n"))


def test_streamlit_shows_the_characters_in_captions_and_errors():
    def script():
        import streamlit as st

        from moodlab.ui.text import plain

        st.caption(plain("![b](http://127.0.0.1:9/beacon)"))
        st.error(plain("[link](http://x.example/y)"))

    at = AppTest.from_function(script, default_timeout=30).run()  # slow under load
    assert at.caption[0].value == plain("![b](http://127.0.0.1:9/beacon)")
    assert not at.exception
