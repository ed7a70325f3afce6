"""Showing user-provided text (file names, paths, class labels, error messages) inside Streamlit Markdown.

Everything Streamlit renders as Markdown (``st.markdown``, ``st.caption``, ``st.error``, headers, expander
labels, image captions) interprets ``*``, ``_``, backticks, links, HTML, ``$`` (LaTeX), ``:name:`` /
``:red[...]`` directives and GFM autolinks (``www.x.org``, ``a@b.org``). A file named ``**x**.jpg`` would
show as a bold ``x``, one with a newline could start a heading. :func:`escape_markdown` makes any value
show literally, while ordinary names (``IMG_0001.jpg`` aside) stay as they are.
"""

from __future__ import annotations

import re

#: Control characters, and the bidirectional overrides that can disguise a name (``photo\u202egpj.exe``).
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Characters with a meaning anywhere in a line: backslash-escaped (CommonMark allows it for all ASCII punctuation).
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$:&])")
#: A list marker at the very start: ``- x``, ``+ x``, ``1. x``, ``2) x``.
_LIST_MARKER = re.compile(r"^\s*(?:[-+]|\d+[.)])")
#: Where Streamlit finds patterns in the rendered text, after escapes are resolved: ``:material/icon:`` and the
#: GFM autolinks ``http://``, ``www.`` and ``name@host``. An invisible word joiner there breaks them.
_TEXT_PATTERN = re.compile(r"(?i)(?<=:)|(?=@)|(?<=\bwww)(?=\.)")
_WORD_JOINER = "\u2060"


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED_ESCAPES.get(char, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_markdown(value: object) -> str:
    """``str(value)`` to interpolate into Streamlit Markdown so that it shows literally: control characters
    become visible ``\\n`` / ``\\x1b`` escapes, Markdown syntax is backslash-escaped, and an invisible word
    joiner keeps ``:material/...:`` icons and autolinks from forming."""
    text = _SPECIAL.sub(r"\\\1", _INVISIBLE.sub(_visible, str(value)))
    text = _TEXT_PATTERN.sub(_WORD_JOINER, text)
    return _LIST_MARKER.sub(lambda marker: marker.group()[:-1] + "\\" + marker.group()[-1], text)
