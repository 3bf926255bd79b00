"""Text from outside (crawled pages, uploads, typed names) shown as the characters it is.

Most Streamlit elements render their text as Markdown: ``st.markdown``, ``st.caption``,
``st.error`` and its kin, ``st.image(caption=...)``, ``st.progress(text=...)``, widget
labels and ``help=`` tooltips. A crawled alt text ``![x](http://host/beacon)`` would
make the browser fetch that URL, and ``[link](...)`` would show a link nobody wrote.
Every such text goes through ``plain`` (or a plain element: ``st.text``, ``st.code``,
``st.dataframe``); ``tests/e2e/test_security_escaping.py`` checks it in a browser.
"""

from __future__ import annotations

import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark, and an
# escaped one is shown as itself. These are the ones that start something: emphasis,
# links, images, HTML, entities, headings, lists, tables, directives (":material/...:",
# ":red[...]") and maths ("$...$"); quotes, commas, slashes and a colon before a space
# stay as they are.
_PUNCTUATION = re.compile(r"""([!#$&()*+\-.<=>\[\\\]^_`{|}~]|:(?=\S))""")
# Escapes do not stop GFM's autolinks: Streamlit finds "http://", "www." and e-mail
# addresses in the text after escapes are resolved and makes them links. An invisible
# WORD JOINER (U+2060) inside each breaks the pattern; the text reads the same.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(:)(?=//)|(?<=www)(\.)|(@)")
JOINER = "\u2060"


def plain(value: object) -> str:
    """``value`` for an element that renders Markdown: it shows the same characters
    (with invisible word joiners where a link would start), and renders none of them."""
    lines = str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # Each line escaped; a hard line break ("  " before the newline) keeps the lines.
    return "  \n".join(_escape(line.strip()) for line in lines)


def _escape(line: str) -> str:
    unlinked = _AUTOLINK.sub(lambda m: JOINER + m.group(0), line)
    return _PUNCTUATION.sub(r"\\\1", unlinked)
