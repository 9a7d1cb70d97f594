"""Elements built from the scanner's tokens: enough structure to find and edit limits.

The tree keeps references to tokens (and so to exact spans) rather than copies of text: an
edit is always "replace this span of the original", never "serialise the tree", which is how
the package changes only the bytes it means to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from aiconsole.policy.errors import PolicySyntaxError, line_col
from aiconsole.policy.scanner import (
    Attribute,
    CData,
    Comment,
    EndTag,
    ProcessingInstruction,
    Span,
    StartTag,
    Text,
    Token,
    scan,
)

__all__ = ["Element", "Document", "Node", "parse"]


@dataclass(eq=False)
class Element:
    """One element: its start tag, its end tag (None when self-closing) and what is inside.

    ``nodes`` holds the children in order (elements, text, comments, CDATA, processing
    instructions); ``children`` only the elements.
    """

    start: StartTag
    end: EndTag | None = None
    parent: "Element | None" = None
    nodes: list["Node"] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.start.name

    @property
    def span(self) -> Span:
        """From ``<`` of the start tag to ``>`` of the end tag (or of the self-closing tag)."""
        return Span(self.start.span.start, (self.end or self.start).span.end)

    @property
    def inner_span(self) -> Span:
        """Between the tags; empty at the end of a self-closing tag."""
        if self.end is None:
            return Span(self.start.span.end, self.start.span.end)
        return Span(self.start.span.end, self.end.span.start)

    @property
    def children(self) -> list["Element"]:
        return [n for n in self.nodes if isinstance(n, Element)]

    @property
    def comments(self) -> list[Comment]:
        return [n for n in self.nodes if isinstance(n, Comment)]

    def attribute(self, name: str) -> Attribute | None:
        return self.start.attribute(name)

    def ancestors(self) -> Iterator["Element"]:
        """Parent first, root last."""
        el = self.parent
        while el is not None:
            yield el
            el = el.parent

    def iter(self) -> Iterator["Element"]:
        """This element and every descendant, in document order."""
        yield self
        for child in self.children:
            yield from child.iter()

    def path(self) -> tuple[str, ...]:
        """Names from the root down to this element; a name repeated among its siblings gets
        a 1-based index (``when[2]``) so two limits in one ``<choose>`` read differently."""
        parts: list[str] = []
        el: Element | None = self
        while el is not None:
            label = el.name
            if el.parent is not None:
                same = [c for c in el.parent.children if c.name == el.name]
                if len(same) > 1:
                    label = f"{el.name}[{same.index(el) + 1}]"
            parts.append(label)
            el = el.parent
        return tuple(reversed(parts))


Node = Element | Text | Comment | CData | ProcessingInstruction


@dataclass(eq=False)
class Document:
    """A scanned and balanced policy document.

    ``nodes`` are the top-level nodes (usually blanks, comments and the one ``<policies>``
    element). ``root`` is the ``<policies>`` element if there is one, else the first element.
    """

    text: str
    tokens: list[Token]
    nodes: list[Node]

    @property
    def elements(self) -> list[Element]:
        return [n for n in self.nodes if isinstance(n, Element)]

    @property
    def root(self) -> Element | None:
        els = self.elements
        for el in els:
            if el.name == "policies":
                return el
        return els[0] if els else None

    def iter(self) -> Iterator[Element]:
        """Every element in document order."""
        for el in self.elements:
            yield from el.iter()

    def section_of(self, el: Element) -> Element | None:
        """The ``<inbound>``/``<backend>``/... element that holds ``el`` (a child of the root)."""
        root = self.root
        if root is None:
            return None
        node = el
        while node.parent is not None and node.parent is not root:
            node = node.parent
        return node if node.parent is root and node is not el else None

    def reassemble(self) -> str:
        """The tokens put back together: always equal to ``text`` (the scanner's promise)."""
        return "".join(t.span.of(self.text) for t in self.tokens)


#: Deepest element nesting accepted. Real policies nest a few levels (choose/when/...); a
#: hostile document nested thousands deep would otherwise end in a RecursionError.
MAX_DEPTH = 256


def parse(text: str) -> Document:
    """Scan ``text`` and check that elements are balanced.

    Raises :class:`PolicySyntaxError` naming the line and column of the offending tag: an end
    tag that closes the wrong element, an end tag with nothing open, or an element never
    closed.
    """
    tokens = scan(text)
    top: list[Node] = []
    stack: list[Element] = []
    for tok in tokens:
        sink = stack[-1].nodes if stack else top
        if isinstance(tok, StartTag):
            el = Element(start=tok, parent=stack[-1] if stack else None)
            sink.append(el)
            if not tok.self_closing:
                stack.append(el)
                if len(stack) > MAX_DEPTH:  # walkers recurse: refuse here rather than crash there
                    raise PolicySyntaxError(
                        f"elements are nested more than {MAX_DEPTH} deep; a policy is never this deep.",
                        text=text, offset=tok.span.start)
        elif isinstance(tok, EndTag):
            if not stack:
                raise PolicySyntaxError(f"</{tok.name}> closes an element that was never opened.", text=text, offset=tok.span.start)
            open_el = stack[-1]
            if open_el.name != tok.name:
                ln, col = line_col(text, open_el.start.span.start)
                raise PolicySyntaxError(
                    f"</{tok.name}> does not match <{open_el.name}> opened at line {ln}, column {col}.",
                    text=text,
                    offset=tok.span.start,
                )
            open_el.end = tok
            stack.pop()
        else:
            sink.append(tok)
    if stack:
        el = stack[-1]
        raise PolicySyntaxError(f"<{el.name}> is never closed.", text=text, offset=el.start.span.start)
    return Document(text=text, tokens=tokens, nodes=top)
