"""The tolerant scanner: exact spans, both forms, expressions with tricky characters, errors."""

from __future__ import annotations

import pytest

from aiconsole.policy.errors import PolicySyntaxError
from aiconsole.policy.scanner import Comment, EndTag, StartTag, Text, scan, skip_expression
from aiconsole.policy.tree import parse


def _join(text: str) -> str:
    return "".join(t.span.of(text) for t in scan(text))


@pytest.mark.parametrize(
    "expr",
    [
        '@(context.Request.Headers.GetValueOrDefault("x",""))',
        '@(x.Contains(")"))',
        "@(x == ')')",
        "@(x == '\\'')",
        '@(@"a "") b" + ")")',
        '@($"{d["k)"]}) {{not a hole}}")',
        '@{ var a = "}"; // a comment with a ) and a "\n return a; }',
        "@{ /* ) } */ return 1; }",
        "@(context.Request.Body.As<JObject>(true)[&quot;a)&quot;])",
        "@(a &amp;&amp; b &lt; c)",
        "@(list.Where(p => p > 0 && p < 9).Count())",
    ],
)
def test_skip_expression_respects_literals(expr):
    text = expr + "TAIL"
    assert skip_expression(text, 0) == len(expr)


@pytest.mark.parametrize("expr", ["@(a", "@(a]", '@("abc)', '@("a\n")', "@{ a ) }"])
def test_skip_expression_unbalanced_is_none(expr):
    assert skip_expression(expr, 0) is None


def test_raw_form_attributes_and_text():
    text = (
        '<policies>\r\n  <inbound>\r\n'
        '    <set-variable name="a" value="@(context.Request.Headers.GetValueOrDefault("x", "<y>"))" />\r\n'
        "    <set-body>@{ return x.Where(p => p < 3 && p > 1); }</set-body>\r\n"
        "  </inbound>\r\n</policies>\r\n"
    )
    toks = scan(text)
    assert _join(text) == text
    sv = next(t for t in toks if isinstance(t, StartTag) and t.name == "set-variable")
    assert sv.self_closing
    value = sv.attribute("value")
    assert value.raw == '@(context.Request.Headers.GetValueOrDefault("x", "<y>"))'
    assert value.quote == '"'
    assert value.span.of(text) == f'value="{value.raw}"'
    assert value.leading.of(text) == " "
    names = [t.name for t in toks if isinstance(t, (StartTag, EndTag))]
    assert names == ["policies", "inbound", "set-variable", "set-body", "set-body", "inbound", "policies"]


def test_comment_cdata_pi_and_text_tokens():
    text = '<?xml version="1.0"?>\n<!-- c <x> -->\n<p><![CDATA[<a>]]></p>'
    toks = scan(text)
    kinds = [type(t).__name__ for t in toks]
    assert kinds == ["ProcessingInstruction", "Text", "Comment", "Text", "StartTag", "CData", "EndTag"]
    assert isinstance(toks[2], Comment) and toks[2].body == " c <x> "
    assert isinstance(toks[1], Text)


def test_single_quoted_and_spaced_attributes():
    text = "<a x = 'it''s' y='@(x == \"'\")'/>"
    with pytest.raises(PolicySyntaxError):
        scan(text)  # 'it' then 's' without '=': malformed
    text = "<a x = '1'\n   y='@(z)' />"
    (tag,) = scan(text)
    assert [a.name for a in tag.attributes] == ["x", "y"]
    assert tag.attributes[0].span.of(text) == "x = '1'"
    assert tag.attributes[1].leading.of(text) == "\n   "


def test_damaged_expression_falls_back_to_the_end_of_the_tag():
    text = '<r><x template="@{ var a = (b["c""\n d=""; }"/></r>'
    doc = parse(text)
    (x,) = doc.root.children
    assert x.attribute("template").raw == '@{ var a = (b["c""\n d=""; }'


@pytest.mark.parametrize(
    "text,line,col,words",
    [
        ("<a>\n  <b>\n</a>", 3, 1, "does not match <b>"),
        ("<a>\n<b/>", 1, 1, "never closed"),
        ("<a></b>", 1, 4, "does not match"),
        ("</a>", 1, 1, "never opened"),
        ("<a>\n  <!-- oops", 2, 3, "comment"),
        ("<a>\n  <b x='1'", 2, 3, "never closed"),
        ("<a x=1>", 1, 6, "quotes"),
        ("<a x>", 1, 4, "has no value"),
        ('<!DOCTYPE lolz [<!ENTITY lol "lol">]><a>&lol;</a>', 1, 1, "DTD"),
        ('<a>\n<!ENTITY x "y"></a>', 2, 1, "DTD"),
        ("<a><![CDATA[x</a>", 1, 4, "CDATA"),
        ("<a></a", 1, 4, "not closed"),
        ('<a x="abc></a>', 1, 6, "never closed"),
    ],
)
def test_malformed_reports_line_and_column(text, line, col, words):
    with pytest.raises(PolicySyntaxError) as info:
        parse(text)
    err = info.value
    assert (err.line, err.column) == (line, col), err.message
    assert words in err.message
    assert err.message.startswith(f"Line {line}, column {col}:")


def test_entities_are_never_expanded():
    from aiconsole.policy.xmltext import unescape

    assert unescape("&lol; &amp; &#65; &#x42; &quot;") == '&lol; & A B "'


def test_spans_are_str_offsets_with_byte_helper():
    text = '<a b="é">ü</a>'
    tag = scan(text)[0]
    span = tag.attributes[0].value_span
    assert span.of(text) == "é"
    start, end = span.byte_range(text)
    assert text.encode()[start:end].decode() == "é"


def test_text_tokens_carry_their_expressions():
    text = "<v>\n  @(a < b && c > d)\n</v><w>not @(an expression) here</w>"
    texts = [t for t in scan(text) if isinstance(t, Text)]
    assert [tuple(s.of(text) for s in t.expressions) for t in texts] == [("@(a < b && c > d)",), ()]


def test_pathological_unbalanced_expressions_stay_linear():
    # quadratic work here would take minutes; the budget keeps it to a fraction of a second
    for text in ("<a>" + "@(" * 40000 + "</a>", '<a x="' + "@(" * 40000 + '" />'):
        doc = parse(text)
        assert doc.reassemble() == text


@pytest.mark.parametrize(
    "text,form",
    [
        ('<p><a x="@(f(&quot;k&quot;))" /></p>', "xml"),
        ('<p><a x="@(f("k"))" /></p>', "rawxml"),
        ("<p><v>@(a &amp;&amp; b)</v></p>", "xml"),
        ("<p><v>@(a && b)</v></p>", "rawxml"),
        ('<p><a x="@(context.Subscription.Id)" /></p>', None),
    ],
)
def test_detect_form(text, form):
    from aiconsole.policy import detect_form

    assert detect_form(parse(text)) == form
