"""escape_markdown: user-provided text shows literally in Streamlit Markdown (checked in Chromium while writing it:
every case below renders as its plain text, with no element other than a paragraph)."""

import pytest

from geovis.markdown_text import escape_markdown

WJ = "\u2060"  # the invisible word joiner that keeps Streamlit from finding icons and autolinks in the text


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("**bold** _it_ `code`", r"\*\*bold\*\* \_it\_ \`code\`"),
        ("[link](x.org) ![img](x.png)", r"\[link\](x.org) !\[img\](x.png)"),
        ("<b>html</b> &amp; a\\b", r"\<b\>html\</b\> \&amp; a\\b"),
        ("# heading | cell | ~~strike~~ > quote", r"\# heading \| cell \| \~\~strike\~\~ \> quote"),
        ("$x^2$ :red[red]", r"\$x^2\$ \:" + WJ + r"red\[red\]"),
        (":material/home:", r"\:" + WJ + r"material/home\:" + WJ),
        ("www.x.org a@b.org http://x.org", "www" + WJ + r".x.org a" + WJ + r"@b.org http\:" + WJ + "//x.org"),
        ("- item", r"\- item"),
        ("+ item", r"\+ item"),
        ("12. item", r"12\. item"),
        ("3) item", r"3\) item"),
        ("line\n# heading\ttab\r", r"line\\n\# heading\\ttab\\r"),
        ("bell\x07 escape\x1b[31m del\x7f", r"bell\\x07 escape\\x1b\[31m del\\x7f"),
        ("photo\u202egpj.exe", r"photo\\u202egpj.exe"),
    ],
    ids=["emphasis-code", "links-images", "html-entities-backslash", "block-syntax", "latex-directive",
         "material-icon", "autolinks", "dash-list", "plus-list", "ordered-list", "paren-list", "newlines",
         "control-characters", "bidi-override"],
)
def test_markdown_syntax_and_invisible_characters_are_escaped(text, escaped):
    assert escape_markdown(text) == escaped


@pytest.mark.parametrize("name", ["IMG 0001.jpg", "2022-08-02", "Lisbon, Portugal (2022).heic", "été.png", "a-b.c"])
def test_ordinary_names_are_unchanged(name):
    assert escape_markdown(name) == name


def test_any_value_is_shown_by_its_str():
    assert escape_markdown(ValueError("bad *value*")) == r"bad \*value\*"
    assert escape_markdown(3) == "3"
