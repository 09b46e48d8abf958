"""Finding quotations in text: ``extract_quotes(text) -> list[Quote]``.

Used by the quote-fidelity metric (which checks each quotation of a summary against the
article, see :mod:`evalkit.quote_match`) and by ``evalkit gold stats`` (quotations per
article). Pure functions, no I/O.

What counts as a quotation (docs/metrics-faithfulness.md has the full policy):

- double quotes ``"…"`` and ``“…”``, single quotes ``'…'`` and ``‘…’``, guillemets ``«…»``
  and ``‹…›`` (also reversed ``»…«``), low-high quotes ``„…“`` and ``‚…‘``, CJK corner
  brackets ``「…」`` and ``『…』``;
- an opening mark must sit at the start of a word (after a space, a bracket, a dash or
  another quote mark) and a closing mark at the end of one (before a space, punctuation or
  the end), so ``don’t``, ``Starmer’s``, ``O'Neill`` are never quotes; ``’90s``, ``'em``,
  ``rock ’n’ roll`` and ``5'10"`` are known elisions and measures; a single quote after a
  letter and before a lower-case word (``the players' union``, ``goin' home``) closes a
  quotation only when no better closing mark follows in the same paragraph;
- tokenized text (PTB / CNN-DailyMail style, as in SummEval): a backtick or a double
  backtick opens a quotation, two straight single quotes close a double-backtick one, a
  mark with spaces on both sides closes an open quotation (and opens none unless it is a
  backtick), and " 's", " 'm", " 're", " 've", " 'll", " 'd" are contractions;
- quotations nest (a ‘quote’ inside a “quote”): ``extract_quotes`` returns the outermost
  ones, each with its inner ones in ``nested``;
- a quotation may span sentences but not paragraphs (a blank line or a new bullet): one
  left open at a paragraph end is dropped, unless the next paragraph opens with the same
  kind of mark (the newspaper convention for a quote running over several paragraphs),
  in which case each paragraph's part is a quotation of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: glyph -> family; marks of one family close each other's quotations
_FAMILY = {
    '"': "double", "“": "double", "”": "double", "„": "double", "‟": "double",
    "'": "single", "‘": "single", "’": "single", "‚": "single", "‛": "single",
    "«": "guillemet", "»": "guillemet", "‹": "single_guillemet", "›": "single_guillemet",
    # tokenized (PTB / CNN-DailyMail) text: `single' and ``double''
    "`": "single", "``": "double", "''": "double",
    # CJK corner brackets: unambiguous, and CJK text has no spaces around them
    "「": "corner", "」": "corner", "『": "white_corner", "』": "white_corner",
}
QUOTE_GLYPHS = frozenset(g for g in _FAMILY if len(g) == 1)
#: what may close a quotation opened by a glyph
_CLOSERS = {
    '"': ('"', "”"), "“": ("”", '"'), "„": ("“", "”", '"'), "‟": ("”", '"'), "”": ("”", '"'),
    "'": ("'", "’"), "‘": ("’", "'"), "‚": ("‘", "’", "'"), "‛": ("’", "'"), "`": ("'", "’"),
    "«": ("»",), "»": ("«",), "‹": ("›",), "›": ("‹",), "``": ("''",), "「": ("」",), "『": ("』",),
}
_UNAMBIGUOUS = {"「": (True, False), "」": (False, True), "『": (True, False), "』": (False, True)}
_CLOSING_ONLY = {"”", "’", "»", "›", "''"}  # open only as a fallback ("Swedish" ”…”, reversed »…«)
_NEVER_OPEN = {"’", "''"}
_OPEN_CONTEXT = set("([{<-–—/") | QUOTE_GLYPHS
_CLOSE_CONTEXT = set(".,;:!?)]}>-–—/…") | QUOTE_GLYPHS
_SINGLE_APOSTROPHES = set("'’‘")

_ELISION = re.compile(r"(?:\d\d(?:s|'s|’s)?|em|cause|cos|til|tis|twas|bout|n|s|m|re|ve|ll|d)(?![\w'’])",
                      re.IGNORECASE)  # ’90s, 'em, ’til, tokenized "team 's", "I 'm"
_ROCK_N_ROLL = re.compile(r"(?<!\S)['’‘]n['’](?=\s)", re.IGNORECASE)
_FEET_INCHES = re.compile(r"(?<![\w.,])\d['’′]\s?\d{1,2}(?:\.\d+)?(?:\"|”|″|(?![\w'’]))")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n|\n[ \t]*(?=(?:[-*•·‣▪–]|\d{1,2}[.)])\s)")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_BRACKETED = re.compile(r"\[[^\]]*\]")


@dataclass(frozen=True)
class Quote:
    """One quotation: ``text`` between the marks; ``start``/``end`` cover the marks too."""

    text: str
    start: int
    end: int
    open_mark: str
    close_mark: str
    depth: int = 0
    nested: tuple[Quote, ...] = field(default=())

    @property
    def inner_start(self) -> int:
        return self.start + len(self.open_mark)

    @property
    def inner_end(self) -> int:
        return self.end - len(self.close_mark)

    @property
    def words(self) -> int:
        """Words of the quotation, not counting ``[bracketed]`` editorial insertions."""
        return count_words(_BRACKETED.sub(" ", self.text))

    def flatten(self) -> list[Quote]:
        """This quotation followed by all quotations nested in it (depth first)."""
        out = [self]
        for q in self.nested:
            out.extend(q.flatten())
        return out


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


@dataclass
class _Mark:
    pos: int
    glyph: str
    can_open: bool
    can_close: bool
    weak_close: bool = False  # a closing candidate that may be an apostrophe (players' union)


@dataclass
class _Open:
    mark: _Mark
    children: list[Quote] = field(default_factory=list)


def _classify(text: str, skip: set[int]) -> list[_Mark]:
    marks: list[_Mark] = []
    backticks = False
    i = -1
    while i + 1 < len(text):
        i += 1
        ch = text[i]
        if ch not in _FAMILY or i in skip:
            continue
        if text.startswith("``", i) or (backticks and text.startswith("''", i)):
            ch = text[i:i + 2]
            backticks = True
        p = text[i - 1] if i > 0 else None
        n = text[i + len(ch)] if i + len(ch) < len(text) else None
        if ch in _UNAMBIGUOUS:
            marks.append(_Mark(i, ch, *_UNAMBIGUOUS[ch]))
            continue
        if (p is None or p.isspace()) and (n is None or n.isspace()) and ch not in "«»‹›":
            # a mark standing alone (tokenized text: `` it is over . '') closes an open quotation;
            # only backticks open one
            marks.append(_Mark(i, ch, ch in ("`", "``"), p is not None))
            i += len(ch) - 1
            continue
        if ch in _SINGLE_APOSTROPHES and p is not None and n is not None and p.isalnum() and n.isalnum():
            continue  # don't, Starmer’s, O'Neill
        spaced = ch in "«»‹›"  # French typography puts a space inside guillemets: « texte »
        can_open = (n is not None and (spaced or not n.isspace())
                    and (p is None or p.isspace() or p in _OPEN_CONTEXT))
        can_close = (p is not None and (spaced or not p.isspace())
                     and (n is None or n.isspace() or n in _CLOSE_CONTEXT))
        if ch in _SINGLE_APOSTROPHES and can_open and not can_close and _ELISION.match(text, i + 1):
            continue  # ’90s, 'em, ’til
        weak = False
        if ch in "'’" and can_close and p is not None and p.isalpha():
            rest = text[i + 1:i + 3]
            weak = len(rest) == 2 and rest[0] == " " and rest[1].islower()
        marks.append(_Mark(i, ch, can_open, can_close, weak))
        i += len(ch) - 1
    return marks


def _skipped_positions(text: str) -> set[int]:
    skip: set[int] = set()
    for rx in (_ROCK_N_ROLL, _FEET_INCHES):
        for m in rx.finditer(text):
            skip.update(i for i in range(m.start(), m.end()) if text[i] in _FAMILY)
    return skip


def _paragraph_ends(text: str) -> list[int]:
    return [m.start() for m in _PARAGRAPH_BREAK.finditer(text)] + [len(text)]


def extract_quotes(text: str) -> list[Quote]:
    """The outermost quotations of ``text`` in order of appearance (inner ones in ``nested``)."""
    marks = _classify(text, _skipped_positions(text))
    para_ends = _paragraph_ends(text)
    top: list[Quote] = []
    stack: list[_Open] = []
    para = 0

    def emit(q: Quote) -> None:
        (stack[-1].children if stack else top).append(q)

    def make(entry: _Open, close_pos: int, close_mark: str, depth: int) -> Quote:
        start = entry.mark.pos
        inner = text[start + len(entry.mark.glyph):close_pos]
        return Quote(inner, start, close_pos + len(close_mark), entry.mark.glyph, close_mark, depth,
                     tuple(_redepth(c, depth + 1) for c in entry.children))

    for k, m in enumerate(marks):
        while m.pos > para_ends[para]:
            _end_paragraph(text, stack, top, para_ends[para], marks[k], make)
            para += 1
        closed = False
        if m.can_close:
            idx = _matching_open(stack, m.glyph)
            if idx is not None and m.weak_close and _better_closer_follows(marks, k, para_ends[para]):
                idx = None
            if idx is not None:
                entry = stack[idx]
                del stack[idx:]
                q = make(entry, m.pos, m.glyph, len(stack))
                if q.text.strip():
                    emit(q)
                closed = True
        if not closed and m.can_open and (m.glyph not in _CLOSING_ONLY or (not m.can_close and m.glyph not in _NEVER_OPEN)):
            stack.append(_Open(m))
    while para < len(para_ends):
        _end_paragraph(text, stack, top, para_ends[para], None, make)
        para += 1
    return top


def _matching_open(stack: list[_Open], glyph: str) -> int | None:
    for idx in range(len(stack) - 1, -1, -1):
        if glyph in _CLOSERS[stack[idx].mark.glyph]:
            return idx
    return None


def _better_closer_follows(marks: list[_Mark], k: int, para_end: int) -> bool:
    """A weak closer (``players' union``) yields to a later same-family closer in the paragraph."""
    family = _FAMILY[marks[k].glyph]
    for m in marks[k + 1:]:
        if m.pos > para_end:
            return False
        if _FAMILY[m.glyph] != family:
            continue
        if m.can_open and not m.can_close:
            return False  # the next mark of this family opens a new quotation
        if m.can_close:
            return True
    return False


def _end_paragraph(text, stack, top, end, next_mark, make) -> None:
    """Close or drop quotations left open at a paragraph end."""
    if not stack:
        return
    outer = stack[0]
    continues = (next_mark is not None and next_mark.can_open
                 and _FAMILY[next_mark.glyph] == _FAMILY[outer.mark.glyph]
                 and not text[end:next_mark.pos].strip(" \t\n-*•·‣▪–0123456789.)"))
    if continues:
        while end > outer.mark.pos + 1 and text[end - 1].isspace():
            end -= 1
        q = make(outer, end, "", 0)
        if q.text.strip():
            top.append(q)
    stack.clear()


def _redepth(q: Quote, depth: int) -> Quote:
    return Quote(q.text, q.start, q.end, q.open_mark, q.close_mark, depth,
                 tuple(_redepth(c, depth + 1) for c in q.nested))


def all_quotes(text: str) -> list[Quote]:
    """Every quotation, outer and nested, in order of their opening marks."""
    return sorted((q for outer in extract_quotes(text) for q in outer.flatten()), key=lambda q: q.start)
