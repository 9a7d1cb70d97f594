"""Hypothesis strategies: random policy documents with known limits, in both forms.

A generated document comes with what a correct reader must find in it (each limit's policy
and decoded attributes, in order), so tests can check the finder as well as the byte-level
properties. In the ``xml`` form the document is well-formed XML (escaped everywhere); in the
``rawxml`` form expressions are written raw, with quotes, ``<``, ``>``, ``=>`` and ``&&``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from aiconsole.policy.xmltext import escape

LIMIT_NAMES = ["llm-token-limit", "azure-openai-token-limit", "rate-limit-by-key", "quota-by-key"]
TOKEN_LIMIT_NAMES = LIMIT_NAMES[:2]

# C# pieces with brackets, quotes and operators in awkward places
EXPR_PIECES = [
    "context.Subscription.Id",
    'context.Request.Headers.GetValueOrDefault("x-user", "(none)")',
    "context.Variables.GetValueOrDefault<string>(\"a)b\")",
    "(x => x < 3 && x > 1)",
    "'('",
    "')'",
    "'\\''",
    '"quote \\" inside )"',
    '@"verbatim "" ) }"',
    '$"{context.Api.Id}-{{literal}}"',
    'context.Request.Body.As<JObject>(true)["usage"]["total_tokens"]',
    "a[1] + b[2]",
    "/* ) */ 1",
]


@dataclass
class GenLimit:
    policy: str
    attributes: list[tuple[str, str]]  # decoded values, in document order


@dataclass
class GenDoc:
    text: str
    form: str
    newline: str
    limits: list[GenLimit] = field(default_factory=list)
    well_formed: bool = True


@st.composite
def expressions(draw, *, block: bool = False) -> str:
    pieces = draw(st.lists(st.sampled_from(EXPR_PIECES), min_size=1, max_size=3))
    body = " + ".join(pieces)
    if block:
        return "@{ var v = " + body + "; return v.ToString(); }"
    return "@(" + body + ")"


def _attr_value(value: str, quote: str, form: str) -> str:
    if form == "rawxml" and value.startswith(("@(", "@{")):
        return value
    return escape(value, quote)


@st.composite
def limit_elements(draw, form: str, indent: str, newline: str, unit: str, names: list[str] = LIMIT_NAMES) -> tuple[str, GenLimit]:
    policy = draw(st.sampled_from(names))
    counter = draw(st.one_of(expressions(), st.sampled_from(["static-key", "@(context.Subscription.Id)"])))
    attrs: list[tuple[str, str]] = [("counter-key", counter)]
    if policy in ("llm-token-limit", "azure-openai-token-limit"):
        attrs.append(("tokens-per-minute", draw(st.one_of(st.integers(1, 10**7).map(str), st.just("{tpm}")))))
        if draw(st.booleans()):
            attrs.append(("token-quota", str(draw(st.integers(1, 10**9)))))
            attrs.append(("token-quota-period", draw(st.sampled_from(["Hourly", "Daily", "Monthly"]))))
        attrs.append(("estimate-prompt-tokens", draw(st.sampled_from(["true", "false"]))))
        if draw(st.booleans()):
            attrs.append(("remaining-tokens-variable-name", "remainingTokens"))
    else:
        attrs.append(("calls", str(draw(st.integers(1, 10000)))))
        attrs.append(("renewal-period", str(draw(st.integers(1, 3600)))))
        if draw(st.booleans()):
            attrs.append(("increment-condition", draw(expressions())))
    attrs = draw(st.permutations(attrs))
    parts = [f"<{policy}"]
    for i, (name, value) in enumerate(attrs):
        quote = draw(st.sampled_from(['"', "'"]))
        sep = draw(st.sampled_from([" ", "  ", newline + indent + unit])) if i else " "
        eq = draw(st.sampled_from(["=", " = ", "="]))
        parts.append(f"{sep}{name}{eq}{quote}{_attr_value(value, quote, form)}{quote}")
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from([" />", "/>"])))
    else:
        parts.append(">" + draw(st.sampled_from(["", newline + indent])) + f"</{policy}>")
    return "".join(parts), GenLimit(policy, list(attrs))


@st.composite
def comments(draw) -> str:
    body = draw(st.text(alphabet=st.sampled_from(list("abc <>\"'&=@(){} -é")), max_size=20))
    while "--" in body:
        body = body.replace("--", "-")
    if body.endswith("-"):
        body += " "
    return f"<!--{body}-->"


@st.composite
def others(draw, form: str, indent: str, newline: str, unit: str) -> str:
    kind = draw(st.sampled_from(["set-variable", "set-body", "comment", "cdata", "set-header"]))
    if kind == "comment":
        return draw(comments())
    if kind == "cdata":
        return "<![CDATA[ <not> & markup ]]>"
    if kind == "set-variable":
        quote = draw(st.sampled_from(['"', "'"]))
        value = draw(expressions())
        return f"<set-variable name={quote}v{quote} value={quote}{_attr_value(value, quote, form)}{quote} />"
    if kind == "set-header":
        return f'<set-header name="h" exists-action="override">{newline}{indent}{unit}<value>plain &amp; simple</value>{newline}{indent}</set-header>'
    body = draw(expressions(block=True))
    text = body if form == "rawxml" else escape(body, '"').replace("&quot;", '"')
    return f"<set-body>{text}</set-body>"


@st.composite
def children(draw, form: str, indent: str, newline: str, unit: str, depth: int, limits: list[GenLimit]) -> str:
    out: list[str] = []
    for _ in range(draw(st.integers(0, 3 if depth == 0 else 2))):
        choice = draw(st.sampled_from(["limit", "limit", "other", "choose"] if depth < 2 else ["limit", "other"]))
        if choice == "limit":
            text, lim = draw(limit_elements(form, indent, newline, unit))
            limits.append(lim)
        elif choice == "other":
            text = draw(others(form, indent, newline, unit))
        else:
            cond = draw(expressions())
            inner = indent + unit
            inner2 = inner + unit
            parts = [f"<choose>{newline}"]
            for _ in range(draw(st.integers(1, 2))):
                kids = draw(children(form, inner2, newline, unit, depth + 1, limits))
                parts.append(f'{inner}<when condition="{_attr_value(cond, chr(34), form)}">{kids}{newline}{inner}</when>{newline}')
            if draw(st.booleans()):
                kids = draw(children(form, inner2, newline, unit, depth + 1, limits))
                parts.append(f"{inner}<otherwise>{kids}{newline}{inner}</otherwise>{newline}")
            parts.append(f"{indent}</choose>")
            text = "".join(parts)
        out.append(newline + indent + text + draw(st.sampled_from(["", " ", "\t"])))
    return "".join(out)


@st.composite
def policy_documents(draw, forms: tuple[str, ...] = ("xml", "rawxml"), ensure_token_limit: bool = False) -> GenDoc:
    """A whole document; ``ensure_token_limit`` puts one token limit first in ``inbound``
    (after any ``<base />``) so that override properties never run on an empty case."""
    form = draw(st.sampled_from(forms))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    unit = draw(st.sampled_from(["  ", "    ", "\t"]))
    limits: list[GenLimit] = []
    head = draw(st.sampled_from(["", "<!-- header -->" + newline, '<?xml version="1.0" encoding="utf-8"?>' + newline]))
    sections = []
    for name in ("inbound", "backend", "outbound", "on-error"):
        if name != "inbound" and not draw(st.booleans()):
            continue
        base = newline + unit + unit + "<base />" if draw(st.booleans()) else ""
        body = ""
        if name == "inbound":
            if ensure_token_limit:
                first, lim = draw(limit_elements(form, unit + unit, newline, unit, TOKEN_LIMIT_NAMES))
                limits.append(lim)
                body = newline + unit + unit + first
            body += draw(children(form, unit + unit, newline, unit, 0, limits))
        sections.append(f"{newline}{unit}<{name}>{base}{body}{newline}{unit}</{name}>")
    tail = draw(st.sampled_from(["", newline]))
    text = f"{head}<policies>{''.join(sections)}{newline}</policies>{tail}"
    return GenDoc(text=text, form=form, newline=newline, limits=limits, well_formed=form == "xml")


GARBAGE = st.text(alphabet=st.sampled_from(list("<>/\"'=@(){}![]-?&;ab \n\r\t")), max_size=60)
