"""Finding quotations in text: ``extract_quotes(text) -> list[Quote]``.

Used by the quote-fidelity metric (which checks each quotation of a summary against the
article, see :mod:`evalkit.quote_match`) and by ``evalkit gold stats`` (quotations per
article). Pure functions, no I/O, linear in the length of the text.

What each mark can do (open, close, neither) is read from its neighbours in
:mod:`evalkit.quote_marks`; this module pairs them (docs/metrics-faithfulness.md has the full
policy):

- double quotes ``"…"`` and ``“…”``, single quotes ``'…'`` and ``‘…’``, guillemets ``«…»``
  and ``‹…›`` (also reversed ``»…«``), low-high quotes ``„…“`` and ``‚…‘``, CJK corner
  brackets ``「…」`` and ``『…』``, tokenized ```` `` … '' ```` and `` ` … ' ``;
- a closing mark closes the nearest open quotation of its kind; a weak one (``players'
  union``) only when the closing marks still free after it cannot close every open
  quotation of its kind (see ``_Pairing.yields``);
- an opening mark inside an open quotation of the same kind nests (‘He said ‘no’ twice’),
  unless it starts a sentence: then it is the next paragraph of the same quotation, the
  newspaper convention (``‘A. ‘B.’``: paragraph A's quotation is never closed). Each
  paragraph's part is a quotation of its own, the unclosed one ending at its last word;
- a paragraph (blank line, new bullet) ends every quotation: one left open is dropped, unless
  the next paragraph opens with a mark of its kind (the same convention); in flattened
  CNN/DailyMail text a run of captions (sentences ending in " .") is such a paragraph;
- a quotation dropped for being unclosed keeps the complete quotations inside it: they are
  moved up a level;
- ``extract_quotes`` returns the outermost quotations, each with its inner ones in ``nested``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from evalkit.quote_marks import CLOSERS, CLOSING_ONLY, NEVER_OPEN, QUOTE_GLYPHS, Mark, classify

__all__ = ["QUOTE_GLYPHS", "Quote", "all_quotes", "count_words", "extract_quotes"]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n|\n[ \t]*(?=(?:[-*•·‣▪–]|\d{1,2}[.)])\s)")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_BRACKETED = re.compile(r"\[[^\]]*\]")
_PARAGRAPH_LEAD = " \t\n-*•·‣▪–0123456789.)"
#: a sentence ending in " ." in untokenized text: a picture caption of CNN/DailyMail text, whose
#: paragraphs (captions included) were flattened into one line
_CAPTION_END = re.compile(r"(?<=[^\s.!?…]) \.(?=\s|$)")
_SENTENCE_BREAK = re.compile(r"[.!?…]['’\"”)\]]*\s+")


@dataclass(frozen=True)
class Quote:
    """One quotation: ``text`` between the marks; ``start``/``end`` cover the marks too. A part
    of a quotation running over several paragraphs has ``close_mark`` ``""`` and ends at its
    last character."""

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
class _Open:
    mark: Mark
    children: list[Quote] = field(default_factory=list)


class _Pairing:
    """The state of one left-to-right pass over the marks."""

    def __init__(self, text: str, marks: list[Mark], para_ends: list[int]):
        self.text = text
        self.marks = marks
        self.top: list[Quote] = []
        self.stack: list[_Open] = []
        self.strong_ahead, self.any_ahead = _closers_ahead(marks, para_ends)

    def emit(self, q: Quote) -> None:
        (self.stack[-1].children if self.stack else self.top).append(q)

    def emit_all(self, quotes: list[Quote]) -> None:
        for q in quotes:
            self.emit(_redepth(q, len(self.stack)))

    def pop_to(self, idx: int) -> tuple[_Open, list[Quote]]:
        """Remove stack[idx:]; return stack[idx] and the complete quotations of the entries above it."""
        entry, above = self.stack[idx], self.stack[idx + 1:]
        del self.stack[idx:]
        return entry, [c for e in above for c in e.children]

    def close(self, idx: int, close_pos: int, close_mark: str) -> None:
        entry, orphans = self.pop_to(idx)
        start = entry.mark.pos
        inner = self.text[start + len(entry.mark.glyph):close_pos]
        children = sorted([*entry.children, *orphans], key=lambda q: q.start)
        depth = len(self.stack)
        if inner.strip():
            self.emit(Quote(inner, start, close_pos + len(close_mark), entry.mark.glyph, close_mark, depth,
                            tuple(_redepth(c, depth + 1) for c in children)))
        else:
            self.emit_all(children)

    def end_part(self, idx: int, end: int) -> None:
        """Close stack[idx] without a mark at ``end`` (trailing spaces left out): a paragraph's part."""
        while end > self.stack[idx].mark.pos + 1 and self.text[end - 1].isspace():
            end -= 1
        self.close(idx, end, "")

    def drop(self, idx: int = 0) -> None:
        """Forget stack[idx:] (never closed), keeping the complete quotations inside."""
        entry, orphans = self.pop_to(idx)
        self.emit_all(sorted([*entry.children, *orphans], key=lambda q: q.start))

    def yields(self, k: int, idx: int) -> bool:
        """Whether a weak closer (``players' union``) is no closer here, and stack[idx] stays open.

        It yields when the closers of its kind still free after it (see ``_closers_ahead``)
        can close every open quotation of that kind; otherwise it is needed (``'Not for one
        'nowhere near' ay?'``). Plain closers count; for a weak closer shaped like a possessive,
        weak ones that are not count too. A possessive never ends a quotation that opened a
        sentence (or follows a colon) while the sentence goes on (``'I was in the players' lounge.``)."""
        m = self.marks[k]
        opener = self.stack[idx].mark
        if m.apostrophe_like and m.before_lower and (opener.starts_sentence or opener.after_colon):
            return True
        open_here = sum(1 for e in self.stack if e.mark.family == m.family)
        return (self.any_ahead[k] if m.apostrophe_like else self.strong_ahead[k]) >= open_here

    def matching_open(self, glyph: str) -> int | None:
        for idx in range(len(self.stack) - 1, -1, -1):
            if glyph in CLOSERS[self.stack[idx].mark.glyph]:
                return idx
        return None

    def same_kind_open(self, family: str) -> int | None:
        for idx in range(len(self.stack) - 1, -1, -1):
            if self.stack[idx].mark.family == family:
                return idx
        return None


def _closers_ahead(marks: list[Mark], para_ends: list[int]) -> tuple[list[int], list[int]]:
    """For each mark, how many closers of its family follow it that no later opening mark
    takes (the nearest one after each opening mark is its), up to the next opening mark that
    starts a sentence or the paragraph's end: (plain closers, plain and soft closers)."""
    strong, both = [0] * len(marks), [0] * len(marks)
    count: dict[str, list[int]] = {}
    para = len(para_ends) - 1
    for k in range(len(marks) - 1, -1, -1):
        m = marks[k]
        while para > 0 and m.pos <= para_ends[para - 1]:
            para -= 1
            count.clear()
        c = count.setdefault(m.family, [0, 0])
        strong[k], both[k] = c
        if m.opener_only:
            c[:] = [0, 0] if m.starts_sentence else [max(0, c[0] - 1), max(0, c[1] - 1)]
        elif m.strong_close:
            c[0] += 1
            c[1] += 1
        elif m.soft_close:
            c[1] += 1
    return strong, both


def looks_tokenized(text: str) -> bool:
    """PTB-tokenized text (``team 's``, ``over . '``): most full stops have a space before them."""
    stops = text.count(". ") + text.endswith(".")
    return stops > 0 and 2 * (text.count(" . ") + text.endswith(" .")) > stops


def _caption_runs(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of caption sentences (those ending in " ."), untokenized text only."""
    if " ." not in text or looks_tokenized(text):
        return []
    runs: list[tuple[int, int]] = []
    breaks = iter(_SENTENCE_BREAK.finditer(text))
    sentence_start = 0
    nxt = next(breaks, None)
    for m in _CAPTION_END.finditer(text):
        while nxt is not None and nxt.end() <= m.start():
            sentence_start = nxt.end()
            nxt = next(breaks, None)
        if runs and runs[-1][1] >= sentence_start - 1:
            runs[-1] = (runs[-1][0], m.end())
        else:
            runs.append((sentence_start, m.end()))
    return runs


def _breaks(text: str) -> list[tuple[int, int, bool]]:
    """Paragraph breaks as ``(position, resume, soft)``: quotations open at ``position`` end
    there; the next paragraph starts at ``resume``. A run of captions is a paragraph of its own
    that a quotation running over several paragraphs skips (``'A. [caption .] 'B.'``); it is a
    *soft* break: a quotation that a plain closing mark after it closes goes on across it."""
    out = {(m.start(), m.start(), False) for m in _PARAGRAPH_BREAK.finditer(text)}
    for start, end in _caption_runs(text):
        out.update({(start, end, True), (end, end, True)})
    return sorted(out) + [(len(text), len(text), False)]


def _next_decisive(marks: list[Mark]) -> dict[str, list[int | None]]:
    """Per family, for each index k: the first mark at k or after of that family that only
    opens or closes plainly."""
    out: dict[str, list[int | None]] = {}
    for family in {m.family for m in marks}:
        nxt: list[int | None] = [None] * (len(marks) + 1)
        for k in range(len(marks) - 1, -1, -1):
            m = marks[k]
            nxt[k] = k if m.family == family and (m.opener_only or m.strong_close) else nxt[k + 1]
        out[family] = nxt
    return out


def extract_quotes(text: str) -> list[Quote]:
    """The outermost quotations of ``text`` in order of appearance (inner ones in ``nested``)."""
    marks = classify(text)
    breaks = _breaks(text)
    state = _Pairing(text, marks, [b for b, _, _ in breaks])
    decisive = _next_decisive(marks) if any(soft for _, _, soft in breaks) else {}
    b = 0
    for k, m in enumerate(marks):
        while m.pos > breaks[b][0]:
            end, resume, soft = breaks[b]
            b += 1
            if soft and state.stack:
                d = decisive[state.stack[0].mark.family][k]
                if d is not None and marks[d].strong_close:
                    continue  # closed after the caption: the quotation goes on across it
            j = k
            while j < len(marks) and marks[j].pos < resume:
                j += 1
            _end_paragraph(state, end, resume, marks[j] if j < len(marks) else None)
        if m.can_close:
            idx = state.matching_open(m.glyph)
            if idx is not None and m.weak_close and state.yields(k, idx):
                idx = None
            if idx is not None:
                state.close(idx, m.pos, m.glyph)
                continue
        if not m.can_open or (m.glyph in CLOSING_ONLY and (m.can_close or m.glyph in NEVER_OPEN)):
            continue
        same = state.same_kind_open(m.family)
        if same is not None and m.starts_sentence:
            state.end_part(same, m.pos)  # the next paragraph of the same quotation
        state.stack.append(_Open(m))
    for end, resume, _ in breaks[b:]:
        _end_paragraph(state, end, resume, None)
    return state.top


def _end_paragraph(state: _Pairing, end: int, resume: int, next_mark: Mark | None) -> None:
    """Close or drop quotations left open at a paragraph end: the outermost one goes on when
    the next paragraph opens with a mark of its kind."""
    if not state.stack:
        return
    outer = state.stack[0]
    continues = (next_mark is not None and next_mark.can_open and next_mark.family == outer.mark.family
                 and next_mark.pos >= resume and not state.text[resume:next_mark.pos].strip(_PARAGRAPH_LEAD))
    if continues:
        state.end_part(0, end)
    else:
        state.drop(0)


def _redepth(q: Quote, depth: int) -> Quote:
    if q.depth == depth:
        return q
    return Quote(q.text, q.start, q.end, q.open_mark, q.close_mark, depth,
                 tuple(_redepth(c, depth + 1) for c in q.nested))


def all_quotes(text: str) -> list[Quote]:
    """Every quotation, outer and nested, in order of their opening marks."""
    return sorted((q for outer in extract_quotes(text) for q in outer.flatten()), key=lambda q: q.start)
