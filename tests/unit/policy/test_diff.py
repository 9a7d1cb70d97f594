"""Unified diffs that read well in a terminal, CRLF documents included."""

from __future__ import annotations

from aiconsole.policy import unified_diff
from aiconsole.policy.diff import NO_NEWLINE


def test_equal_texts_have_no_diff():
    assert unified_diff("a\n", "a\n") == ""


def test_labels_and_hunks():
    out = unified_diff("a\nb\nc\n", "a\nB\nc\n", label="product:starter")
    assert out.splitlines() == ["--- a/product:starter", "+++ b/product:starter", "@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"]


def test_crlf_documents_show_no_carriage_returns():
    before = "<p>\r\n  <x a=\"1\" />\r\n</p>\r\n"
    after = before.replace('a="1"', 'a="2"')
    out = unified_diff(before, after)
    assert "\r" not in out
    assert '-  <x a="1" />' in out.splitlines() and '+  <x a="2" />' in out.splitlines()


def test_a_changed_line_ending_is_visible():
    before = "<p>\r\n<x/>\r\n</p>\r\n"
    after = "<p>\r\n<x/>\n</p>\r\n"
    lines = unified_diff(before, after).splitlines()
    assert "-<x/>" in lines and "+<x/> ⏎LF" in lines


def test_missing_final_newline_is_said():
    lines = unified_diff("a\nb", "a\nc").splitlines()
    assert lines[-4:] == ["-b", NO_NEWLINE, "+c", NO_NEWLINE]
