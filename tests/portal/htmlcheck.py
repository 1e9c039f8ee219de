"""A small, strict HTML checker for server-rendered pages (standard library only).

It catches what breaks pages in practice: unbalanced or misnested elements, duplicate ids,
labels and ARIA references pointing nowhere, images without `alt`, and anything the
Content-Security-Policy (`script-src 'self'; style-src 'self'`) would block or that needs
JavaScript: `<script>`, `<style>`, `style=` and `on*=` attributes, `javascript:` URLs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip
# Elements whose end tag HTML lets you omit; we never omit them, but tolerate it in `p`/`li`.
OPTIONAL_END = {"p", "li", "dt", "dd", "option", "tr", "td", "th"}


@dataclass
class Page:
    """What the checker learned about one page."""

    problems: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    forms: list[dict[str, str]] = field(default_factory=list)
    lang: str | None = None
    title: str = ""
    h1: list[str] = field(default_factory=list)
    text: str = ""


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[str] = []
        self.references: list[tuple[str, str]] = []
        self.doctype = False
        self._in_title = False
        self._in_h1 = False
        self._text: list[str] = []

    def handle_decl(self, decl: str) -> None:
        if decl.lower() == "doctype html":
            self.doctype = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "") for name, value in attrs}
        problems = self.page.problems
        names = [name for name, _ in attrs]
        if len(names) != len(set(names)):
            problems.append(f"<{tag}> repeats an attribute: {names}")
        if tag in ("script", "style"):
            problems.append(f"<{tag}> element found (no scripts or inline styles allowed)")
        for name, value in values.items():
            if name == "style":
                problems.append(f"<{tag} style=...> would be blocked by the CSP")
            if name.startswith("on"):
                problems.append(f"<{tag} {name}=...> inline event handler")
            if name in ("href", "src", "action") and value.strip().lower().startswith(
                "javascript:"
            ):
                problems.append(f"<{tag} {name}> uses a javascript: URL")
        if "id" in values:
            if values["id"] in self.page.ids:
                problems.append(f"duplicate id {values['id']!r}")
            self.page.ids.add(values["id"])
        for name in ("aria-labelledby", "aria-describedby", "aria-controls"):
            for ref in values.get(name, "").split():
                self.references.append((f"<{tag} {name}>", ref))
        if tag == "label" and values.get("for"):
            self.references.append(("<label for>", values["for"]))
        if tag == "img" and "alt" not in values:
            problems.append("<img> without alt")
        if tag == "html":
            self.page.lang = values.get("lang")
        if tag == "a" and "href" in values:
            self.page.links.append(values["href"])
        if tag == "form":
            self.page.forms.append(values)
        if tag == "title":
            self._in_title = True
        if tag == "h1":
            self._in_h1 = True
            self.page.h1.append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.page.problems.append(f"<{tag}/> self-closing non-void element")
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.page.problems.append(f"</{tag}> end tag on a void element")
            return
        if tag == "title":
            self._in_title = False
        if tag == "h1":
            self._in_h1 = False
        while self.stack and self.stack[-1] != tag and self.stack[-1] in OPTIONAL_END:
            self.stack.pop()
        if not self.stack or self.stack[-1] != tag:
            self.page.problems.append(f"</{tag}> does not close the open <{self._top()}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._in_title:
            self.page.title += data
        if self._in_h1:
            self.page.h1[-1] += data

    def _top(self) -> str:
        return self.stack[-1] if self.stack else "(nothing)"

    def finish(self) -> Page:
        self.close()
        if not self.doctype:
            self.page.problems.append("missing <!doctype html>")
        leftover = [tag for tag in self.stack if tag not in OPTIONAL_END]
        if leftover:
            self.page.problems.append(f"unclosed elements: {leftover}")
        for where, ref in self.references:
            if ref not in self.page.ids:
                self.page.problems.append(f"{where} points to missing id {ref!r}")
        if not self.page.lang:
            self.page.problems.append("<html> has no lang")
        if not self.page.title.strip():
            self.page.problems.append("empty <title>")
        if len(self.page.h1) != 1:
            self.page.problems.append(f"expected one <h1>, found {len(self.page.h1)}")
        self.page.title = " ".join(self.page.title.split())
        self.page.h1 = [" ".join(h.split()) for h in self.page.h1]
        self.page.text = " ".join(" ".join(self._text).split())
        return self.page


def check_html(html: str) -> Page:
    """Parse a full page and report its problems (an empty `problems` list means clean)."""
    checker = _Checker()
    checker.feed(html)
    return checker.finish()
