"""What a mail's style sheets (its `<style>` elements) do to its text, for html_text.py: which elements
they hide and what colours they give, read with tinycss2 and matched against the open elements.

Mail clients apply a mail's style sheets as browsers do, so `<style>.x{display:none}</style>` hides
`<div class="x">` from the person as surely as an inline style. A mail could put instructions for the
model there, so the rules are read:

- A rule that hides (hides() says how: not displayed, invisible, too small to read, clipped to nothing,
  off the page) is applied to every element it might match: its state (`:first-child`, `:not(...)`, an
  attribute's value, a sibling before it, an `@scope`'s root) is not checked. Whatever the cascade, the
  text such a rule might hide is not read; what that costs is some text a person sees, in mail that
  hides text by those means.
- Rules that need the person to do something (`:hover`, `:focus`, `:target`), or that style generated
  content (`::before`, `::after`), hide no text of the mail and are skipped.
- `@media` rules apply as on a screen a mail is read on: not those for print, a dark scheme, or a
  window narrower than MIN_WIDTH (a phone's layout; the desktop one is read).
- A colour comes from a rule only when its selector can be matched exactly (elements, classes, ids,
  attributes present, nested in one another); it is used to drop text in the colour of its background.

The work is bounded: at most MAX_PARTS compounds of a selector are matched (a longer one, the rightmost
ones only: wider), and a document's matching has a budget of MATCH_BUDGET steps, after which every rule
that hides is taken to match (the text is not read) and colour rules no longer apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

HIDING = ("display", "visibility", "content-visibility", "font-size", "opacity", "overflow", "overflow-x",
          "overflow-y", "height", "max-height", "width", "max-width", "clip", "clip-path", "transform",
          "text-indent", "position", "left", "top")
COLOURING = ("color", "-webkit-text-fill-color", "background", "background-color", "background-image")
MIN_WIDTH = 1024  # CSS pixels of the window a mail is assumed to be read in (a max-width under it: a phone's)
MAX_PARTS = 8  # compounds of a selector matched, from the right
MATCH_BUDGET = 300_000  # selector steps per document
MAX_NESTING = 16  # rules within rules read (CSS nesting, @media in @supports...)
# the person must act for these to apply (or they style generated content): they hide no text of the mail
ACTED = {"hover", "focus", "active", "focus-within", "focus-visible", "target", "visited", "empty", "before",
         "after", "marker", "placeholder", "selection", "backdrop", "file-selector-button", "cue"}
WHOLE = {"first-line", "first-letter"}  # the element's own text, in part: taken as the element
ANY_OF = {"is", "where", "matches", "-webkit-any", "-moz-any"}  # any of the selectors given
MAX_CHOICES = 64  # selectors one selector spells out to (more: its :is() is left out)
TINY = 3.0  # text under this many pixels high cannot be read
OFF_SCREEN = -999.0  # pixels: placed this far left or up, text is off the page

_LENGTH = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(px|pt|pc|in|cm|mm|q|em|rem|ex|ch|%|vh|vw|vmin|vmax)?$")
_PIXELS = {"": 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4,
           "q": 96 / 101.6, "em": 16.0, "rem": 16.0, "ex": 8.0, "ch": 8.0, "%": 0.16, "vh": 7.68, "vw": 10.24,
           "vmin": 7.68, "vmax": 10.24}  # a font's 16 pixels, a window of 1024 by 768
_WIDTH = re.compile(r"\(\s*(?:max-(?:device-)?width\s*:|(?:device-)?width\s*<=?)\s*([0-9.]+)\s*(px|em|rem)?\s*\)")


def pixels(value: str) -> float | None:
    """A CSS length in pixels (an em as 16; a unitless number as pixels, as in quirks mode); None if not one."""
    found = _LENGTH.match(value.strip())
    return float(found[1]) * _PIXELS[found[2] or ""] if found else None


def hides(props: dict[str, str]) -> bool:
    """Whether these declarations (lower-cased names and values, `!important` removed) hide an element from
    a person's eyes: not shown, invisible, too small to read, clipped to nothing, or off the page."""
    if props.get("display") == "none" or props.get("visibility") in ("hidden", "collapse") or \
            props.get("content-visibility") == "hidden":
        return True
    size = pixels(props.get("font-size", "x"))
    opacity = props.get("opacity", "1").strip()
    try:
        faint = float(opacity[:-1]) / 100 if opacity.endswith("%") else float(opacity)
    except ValueError:
        faint = 1.0
    if (size is not None and size < TINY) or faint <= 0.1:
        return True
    cut = "hidden" in (props.get("overflow"), props.get("overflow-x"), props.get("overflow-y")) or \
        props.get("overflow") == "clip"
    if cut and any((length := pixels(props.get(name, "x"))) is not None and length <= 1
                   for name in ("height", "max-height", "width", "max-width")):
        return True
    clip, clip_path = props.get("clip", ""), props.get("clip-path", "")
    if clip.startswith("rect(") and all(float(n) <= 1 for n in re.findall(r"-?\d+\.?\d*", clip)):
        return True
    if clip_path.startswith("circle(0") or (clip_path.startswith("inset(") and
                                            re.match(r"inset\(\s*(5\d|[6-9]\d|\d{3,})(\.\d+)?%", clip_path)):
        return True
    if re.search(r"scale[xy]?\(\s*0*\.?0+\s*[,)]", props.get("transform", "")):
        return True
    indent = pixels(props.get("text-indent", "x"))
    if indent is not None and indent <= OFF_SCREEN:
        return True
    return props.get("position") in ("absolute", "fixed") and any(
        (at := pixels(props.get(side, "x"))) is not None and at <= OFF_SCREEN for side in ("left", "top"))


@dataclass(frozen=True)
class Element:
    """What a selector can see of an open element (ids and classes lower-cased: mail without a doctype
    is read in quirks mode, where they match whatever their case)."""
    tag: str
    id: str | None
    classes: frozenset[str]
    attrs: frozenset[str]

    @classmethod
    def of(cls, tag: str, attrs: list[tuple[str, str | None]]) -> Element:
        found = dict(attrs)
        return cls(tag, (found.get("id") or "").lower() or None,
                   frozenset((found.get("class") or "").lower().split()), frozenset(found))


@dataclass(frozen=True)
class Compound:
    tag: str | None = None
    id: str | None = None
    classes: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()

    def matches(self, element: Element) -> bool:
        return ((self.tag is None or self.tag == element.tag) and (self.id is None or self.id == element.id)
                and all(c in element.classes for c in self.classes) and all(a in element.attrs for a in self.attrs))

    def key(self) -> str:
        return f"#{self.id}" if self.id else f".{self.classes[0]}" if self.classes else self.tag or "*"


@dataclass(frozen=True)
class Selector:
    parts: tuple[Compound, ...]  # rightmost first
    child: tuple[bool, ...]  # child[i]: parts[i + 1] is the parent of parts[i] (else an ancestor)
    specificity: tuple[int, int, int]


@dataclass
class Rule:
    selector: Selector
    order: int
    props: dict[str, str]
    important: frozenset[str]


@dataclass
class Sheet:
    """A mail's style sheets, ready to be asked about each element as it opens."""
    hiding: dict[str, list[Selector]] = field(default_factory=dict)
    colours: dict[str, list[Rule]] = field(default_factory=dict)
    budget: int = MATCH_BUDGET
    order: int = 0  # rules read so far: a later rule wins over an earlier one of the same specificity

    def __bool__(self) -> bool:
        return bool(self.hiding or self.colours)

    def hides(self, path: list[Element]) -> bool:
        """Whether a rule might hide the last element of `path` (the open elements, outermost first)."""
        return any(self._matches(s, path, loose=True) for s in self._candidates(self.hiding, path[-1]))

    def colours_of(self, path: list[Element]) -> tuple[dict[str, str], dict[str, str]]:
        """(the colour declarations of the rules that match the last element, in cascade order; those of
        them marked !important)."""
        if self.budget < 0:
            return {}, {}
        found = sorted((r for r in self._candidates(self.colours, path[-1])
                        if self._matches(r.selector, path, loose=False)),
                       key=lambda r: (r.selector.specificity, r.order))
        props: dict[str, str] = {}
        important: dict[str, str] = {}
        for rule in found:
            props.update(rule.props)
            important.update({k: v for k, v in rule.props.items() if k in rule.important})
        return props, important

    def _candidates(self, index: dict[str, list[Any]], element: Element) -> Iterator[Any]:
        """The rules whose rightmost compound names something the element has, until the budget is spent."""
        keys = ["*", element.tag, *(f".{c}" for c in element.classes)] + ([f"#{element.id}"] if element.id else [])
        for key in keys:
            for item in index.get(key, ()):
                yield item
                if self.budget < 0:
                    return

    def _matches(self, selector: Selector, path: list[Element], loose: bool) -> bool:
        failed: set[tuple[int, int]] = set()

        def at(i: int, j: int) -> bool:  # parts[i] on path[j], and the rest of the selector above it
            if (i, j) in failed:
                return False
            self.budget -= 1
            if self.budget < 0:
                raise _OutOfBudget
            if not selector.parts[i].matches(path[j]):
                failed.add((i, j))
                return False
            if i == len(selector.parts) - 1:
                return True
            above = [j - 1] if selector.child[i] else range(j - 1, -1, -1)
            if any(at(i + 1, k) for k in above if k >= 0):
                return True
            failed.add((i, j))
            return False

        if self.budget < 0:
            return loose
        try:
            return at(0, len(path) - 1)
        except _OutOfBudget:
            return loose


class _OutOfBudget(Exception):
    pass


def read(sources: list[str]) -> Sheet:
    """The rules of these style sheets that hide text or colour it."""
    import tinycss2

    sheet = Sheet()
    for source in sources:
        _read(sheet, tinycss2.parse_stylesheet(source, skip_whitespace=True, skip_comments=True), [], 0)
    return sheet


def _read(sheet: Sheet, rules: list[Any], outer: list[list[Any]], depth: int) -> None:
    """Rules into `sheet`. `outer`: the selectors of the rule these are nested in (CSS nesting: `.a { .b
    {...} }` is `.a .b`, `.a { &.b {...} }` is `.a.b`), whose declarations an @media inside it holds."""
    import tinycss2

    if depth > MAX_NESTING:
        return
    for rule in rules:
        if rule.type == "at-rule":
            if rule.content is None or not _applies(rule.lower_at_keyword, tinycss2.serialize(rule.prelude)):
                continue
            items = tinycss2.parse_blocks_contents(rule.content, skip_whitespace=True, skip_comments=True)
            if outer:  # @media inside a rule: its declarations are the rule's
                _add(sheet, outer, items)
            _read(sheet, [i for i in items if i.type in ("qualified-rule", "at-rule")], outer, depth + 1)
        elif rule.type == "qualified-rule":
            items = tinycss2.parse_blocks_contents(rule.content, skip_whitespace=True, skip_comments=True)
            selectors = _nested(_split(rule.prelude), outer) if outer else _split(rule.prelude)
            _add(sheet, selectors, items)
            _read(sheet, [i for i in items if i.type in ("qualified-rule", "at-rule")], selectors, depth + 1)


def _nested(selectors: list[list[Any]], outer: list[list[Any]]) -> list[list[Any]]:
    """A nested rule's selectors with the rule around it put in: for its `&`, else before it. Past
    MAX_CHOICES of them, its own selectors with `&` left out (wider: it matches more)."""
    from tinycss2.ast import WhitespaceToken

    if len(selectors) * len(outer) > MAX_CHOICES:
        return [[t for t in tokens if not _is_amp(t)] for tokens in selectors]
    out = []
    for tokens in selectors:
        for around in outer:
            if any(_is_amp(t) for t in tokens):
                out.append([part for t in tokens for part in (around if _is_amp(t) else [t])])
            else:
                out.append([*around, WhitespaceToken(0, 0, " "), *tokens])
    return out


def _is_amp(token: Any) -> bool:
    return token.type == "literal" and token.value == "&"


def _add(sheet: Sheet, selectors: list[list[Any]], items: list[Any]) -> None:
    props, important = _declarations(items)
    hiding = hides({k: v for k, v in props.items() if k in HIDING})
    colouring = {k: v for k, v in props.items() if k in COLOURING}
    for tokens in selectors if hiding or colouring else ():
        sheet.order += 1
        if hiding and (selector := _selector(tokens, loose=True)) is not None:
            sheet.hiding.setdefault(selector.parts[0].key(), []).append(selector)
        if colouring and (selector := _selector(tokens, loose=False)) is not None:
            sheet.colours.setdefault(selector.parts[0].key(), []).append(
                Rule(selector, sheet.order, colouring, frozenset(important) & frozenset(colouring)))


def _applies(keyword: str, prelude: str) -> bool:
    """Whether the rules inside an at-rule apply to a mail read on a screen."""
    if keyword in ("supports", "layer", "container", "scope", "document", "-moz-document"):
        return True
    if keyword != "media":
        return False  # @font-face, @keyframes, @page...: no rules for the mail's elements
    return any(_query_applies(query.strip().lower()) for query in prelude.split(","))


def _query_applies(query: str) -> bool:
    if query.startswith("not ") or not query:
        return True  # wider than it says: what it might hide is not read
    if re.match(r"^(only\s+)?(print|speech|tty|tv|projection|handheld|braille|embossed|aural)\b", query):
        return False
    if "prefers-color-scheme" in query and "dark" in query:
        return False
    for number, unit in _WIDTH.findall(query):
        try:
            width = float(number) * (16 if unit in ("em", "rem") else 1)
        except ValueError:
            continue
        if width < MIN_WIDTH:
            return False
    return True


def _declarations(items: list[Any]) -> tuple[dict[str, str], set[str]]:
    import tinycss2

    props: dict[str, str] = {}
    important: set[str] = set()
    for item in items:
        if item.type == "declaration":
            props[item.lower_name] = tinycss2.serialize(item.value).strip().lower()
            if item.important:
                important.add(item.lower_name)
    return props, important


def _split(prelude: list[Any]) -> list[list[Any]]:
    """A selector list's selectors (split at its commas), with `:is(.a, .b)` and its kind spelled out
    (`.a` and `.b`) where each of its choices is one compound."""
    return [spelled for tokens in _split_commas(prelude) if tokens for spelled in _spelled_out(tokens)]


def _spelled_out(tokens: list[Any]) -> list[list[Any]]:
    for i, token in enumerate(tokens):
        if token.type == "function" and token.lower_name in ANY_OF and i > 0 and tokens[i - 1].type == "literal" \
                and tokens[i - 1].value == ":":
            choices = [c for c in _split_commas(token.arguments) if c]
            if not choices or any(t.type == "whitespace" or (t.type == "literal" and t.value in (">", "+", "~"))
                                  for c in choices for t in c):
                return [tokens]  # choices of more than one compound: the pseudo-class is left out (wider)
            rest = _spelled_out(tokens[i + 1:])
            if len(choices) * len(rest) > MAX_CHOICES:
                return [tokens]  # too many to spell out: left out as well
            return [tokens[:i - 1] + choice + after for choice in choices for after in rest]
    return [tokens]


def _split_commas(tokens: list[Any]) -> list[list[Any]]:
    """Tokens split at their top-level commas, each part without the white space around it."""
    out: list[list[Any]] = [[]]
    for token in tokens:
        if token.type == "literal" and token.value == ",":
            out.append([])
        elif token.type != "comment":
            out[-1].append(token)
    return [_strip(c) for c in out]


def _strip(tokens: list[Any]) -> list[Any]:
    while tokens and tokens[0].type == "whitespace":
        tokens = tokens[1:]
    while tokens and tokens[-1].type == "whitespace":
        tokens = tokens[:-1]
    return tokens


def _selector(tokens: list[Any], loose: bool) -> Selector | None:
    """A selector as compounds, rightmost first; None when it styles no text of the mail, or (not
    `loose`) when it asks for more than elements, classes, ids and attributes present, nested.

    Loose, what cannot be checked is left out, so the selector matches more: pseudo-classes, attribute
    values, and what is left of a sibling combinator (`a + b c` is taken as `b c`)."""
    compounds: list[dict[str, Any]] = [{}]
    combinators: list[str] = []
    pending: str | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind, value = token.type, str(getattr(token, "value", "") or "")
        if kind == "whitespace":
            pending = pending or " "
        elif kind == "literal" and value in (">", "+", "~"):
            pending = value
        else:
            if pending is not None and compounds[-1]:
                combinators.append(pending)
                compounds.append({})
            pending = None
            current = compounds[-1]
            if kind == "ident":
                current["tag"] = value.lower()
            elif kind == "literal" and value == "*":
                current.setdefault("tag", None)
            elif kind == "hash":
                current["id"] = value.lower()
            elif kind == "literal" and value == "." and i + 1 < len(tokens) and tokens[i + 1].type == "ident":
                current.setdefault("classes", []).append(tokens[i + 1].value.lower())
                i += 1
            elif kind == "[] block":
                names = [t for t in token.content if t.type not in ("whitespace", "comment")]
                if not names or names[0].type != "ident":
                    return None
                current.setdefault("attrs", []).append(names[0].value.lower())
                if len(names) > 1 and not loose:
                    return None
            elif kind == "literal" and value == ":":
                current.setdefault("tag", None)  # a compound, if of nothing else
                pseudo = tokens[i + 1] if i + 1 < len(tokens) else None
                element = pseudo is not None and pseudo.type == "literal" and pseudo.value == ":"
                if element:
                    i += 1
                    pseudo = tokens[i + 1] if i + 1 < len(tokens) else None
                name = str(getattr(pseudo, "lower_name", None) or getattr(pseudo, "value", "") or "").lower()
                if name in ACTED or (element and name not in WHOLE):
                    return None
                if not loose and name not in WHOLE:
                    return None
                i += 1
            elif not loose:
                return None
        i += 1
    if not compounds[-1]:
        compounds.pop()
    if not compounds:
        return None
    parts = [Compound(c.get("tag"), c.get("id"), tuple(c.get("classes", ())), tuple(c.get("attrs", ())))
             for c in compounds]
    if any(c in ("+", "~") for c in combinators):
        if not loose:
            return None
        last = max(n for n, c in enumerate(combinators) if c in ("+", "~"))
        parts, combinators = parts[last + 1:], combinators[last + 1:]
    if len(parts) > MAX_PARTS and not loose:
        return None
    parts, combinators = parts[::-1][:MAX_PARTS], combinators[::-1][:MAX_PARTS - 1]
    specificity = (sum(p.id is not None for p in parts), sum(len(p.classes) + len(p.attrs) for p in parts),
                   sum(p.tag is not None for p in parts))
    return Selector(tuple(parts), tuple(c == ">" for c in combinators), specificity)


@lru_cache(maxsize=4096)
def colour(value: str) -> tuple[float, float, float, float] | None:
    """A CSS colour as (red, green, blue, alpha), each 0-1 in sRGB; None when it is not one (or
    `currentcolor`, `inherit`: the parent's)."""
    import tinycss2.color4

    try:
        found = tinycss2.color4.parse_color(value.strip())
        if found is None or isinstance(found, str):
            return None
        srgb = found.to("srgb")
        red, green, blue = (min(1.0, max(0.0, float(c))) for c in srgb.coordinates[:3])
        return red, green, blue, float(srgb.alpha)
    except Exception:  # a colour space it cannot convert (lab, oklch...): as if none were given
        return None


def legacy_colour(value: str) -> str:
    """An HTML attribute's colour (`bgcolor="333366"`, `<font color=...>`) as CSS, read as browsers read
    them (HTML's rules for parsing a legacy colour value: any text is some colour); "" for none."""
    value = value.strip().lower()
    if not value or value == "transparent":
        return ""
    if colour(value) is not None and not re.fullmatch(r"[0-9a-f]+", value):
        return value  # a name, #rgb or #rrggbb
    digits = re.sub(r"[^0-9a-f]", "0", "".join("00" if ord(c) > 0xFFFF else c for c in value)[:128].lstrip("#"))
    digits += "0" * (-len(digits) % 3 or (3 if not digits else 0))
    size = len(digits) // 3
    parts = [digits[i * size:(i + 1) * size][-8:] for i in range(3)]
    while len(parts[0]) > 2 and all(p.startswith("0") for p in parts):
        parts = [p[1:] for p in parts]
    return "#" + "".join(p[:2].rjust(2, "0") if len(p) < 2 else p[:2] for p in parts)


UNKNOWN = "unknown"  # a background that is an image or a gradient: no colour can be told from it


@lru_cache(maxsize=4096)
def background(value: str) -> tuple[float, float, float, float] | str | None:
    """The colour of a `background` or `background-color` value; UNKNOWN for an image or a gradient;
    None when it gives none (`none`, what is not a colour)."""
    if any(word in value for word in ("url(", "gradient", "image-set", "element(", "image(")):
        return UNKNOWN
    found = colour(value)
    if found is not None:
        return found
    import tinycss2

    for token in tinycss2.parse_component_value_list(value):
        if token.type in ("ident", "hash", "function"):
            found = colour(tinycss2.serialize([token]))
            if found is not None:
                return found
    return None
