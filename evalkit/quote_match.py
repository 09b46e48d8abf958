"""Checking one quotation against an article: ``verbatim``, ``altered`` or ``not_found``.

Both texts are normalized the same way before comparison (offsets are kept, so every span
reported points into the *original* article):

- every quote glyph (straight, curly, low, guillemets, primes, backtick) becomes ``'``, so
  ``don’t`` = ``don't`` and a ‘quote’ nested in a “quote” matches whatever marks the
  article used; one that is not inside a word (``'quote'``, tokenized `` ` quote ' ``) stands
  apart, with one space each side, so the spaces tokenized text puts around marks do not
  matter (`` ` successful candidate ' `` = ``'successful candidate '``); every dash (hyphen,
  en, em, figure, minus) becomes ``-`` with the spaces around it made one space (``him – it`` =
  ``him—it`` = ``him - it``, ``0-0`` = ``0 - 0``); runs of whitespace (also non-breaking and
  thin spaces) become one space; zero-width characters and soft hyphens
  are dropped; ``…`` becomes ``...``; other characters are NFKC-normalized one by one.
- punctuation and quote marks at either end of a quotation (or of an ellipsis fragment)
  are ignored: ``"We will win," he said`` matches an article's ``We will win.``
- ``...``, ``…``, ``. . .`` and ``[...]`` split a quotation into fragments that must be
  found in that order (any distance apart).
- ``[bracketed]`` editorial insertions standing alone match any 0 to ``bracket_max_words``
  words (or the bracket itself); ``[T]he`` (one letter glued to a word) is a case change of
  that letter; other glued brackets (``minister[s]``) match up to 24 non-space characters.
- case policy ``first`` (default): case-sensitive except the first letter of each fragment
  (a quotation may start mid-sentence); ``sensitive``; ``insensitive``.
- a fragment starts and ends at word boundaries (``win`` is not found in ``winner``), except
  next to characters of scripts written without spaces (Chinese, Japanese, Thai, ...).

When no verbatim match exists, each fragment's closest article span is searched over word
windows with rapidfuzz (``fuzz.ratio`` on the normalized, case-folded strings); the quotation's
similarity is the length-weighted mean over its fragments, and it is ``altered`` when that
reaches ``altered_threshold``, else ``not_found``. What an altered fragment changed is read
from a word alignment around that window (:mod:`evalkit.quote_diff`): ``“database” →
“system”``, ``“very” inserted``, ``“in it” dropped``; the span reported is the aligned one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal, Optional

from evalkit.quote_diff import MAX_ALIGN_WORDS, align, differences
from evalkit.quote_search import WindowSearch
from evalkit.quotes import QUOTE_GLYPHS

CasePolicy = Literal["first", "sensitive", "insensitive"]
Verdict = Literal["verbatim", "altered", "not_found"]

_QUOTE_LIKE = QUOTE_GLYPHS | set("`´′″")
_DASHES = set("-‐‑‒–—―−⁻﹣－")
_ZERO_WIDTH = set("\u200b\u200c\u200d\u2060\ufeff\u00ad")
_ELLIPSIS = re.compile(r"\[ ?(?:\. ?){2}\. ?\]|(?:\. ?){2}\.")
_EDGE = " '-,.;:!?"
_BRACKET = re.compile(r"\[[^\]]*\]")
_PLACEHOLDER = re.compile(r"(\x00\d+\x00)")
_GLUED_MAX_CHARS = 24
#: a fragment that is not in the article is compared in pieces of at most PIECE_WORDS words,
#: at most MAX_PIECES of them spread over a longer one (the cost of a check is bounded)
PIECE_WORDS = 100
MAX_PIECES = 10
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f]")


def normalize(text: str) -> tuple[str, list[int]]:
    """The normalized text and, for each of its characters, the index it came from."""
    out: list[str] = []
    omap: list[int] = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        if ch in _QUOTE_LIKE:
            inside_word = 0 < i < last and text[i - 1].isalnum() and text[i + 1].isalnum()
            rep = "'" if inside_word else " ' "
        elif ch in _DASHES:
            rep = "-"
        elif ch.isspace():
            rep = " "
        elif ch in _ZERO_WIDTH:
            continue
        elif ch == "…":
            rep = "..."
        elif ord(ch) < 128:
            rep = ch
        else:
            rep = unicodedata.normalize("NFKC", ch)
        for c in rep:
            if c.isspace():
                if not out or out[-1] == " ":
                    continue
                c = " "
            elif c == "-" and out and out[-1] != " ":
                out.append(" ")
                omap.append(i)
            elif out and out[-1] == "-" and (len(out) < 2 or out[-2] == " "):
                out.append(" ")
                omap.append(i)
            out.append(c)
            omap.append(i)
    while out and out[-1] == " ":
        out.pop()
        omap.pop()
    return "".join(out), omap


def split_fragments(quote_text: str) -> list[str]:
    """The normalized fragments of a quotation (split at ellipses, edges trimmed)."""
    norm, _ = normalize(quote_text)
    frags = [f.strip(_EDGE) for f in _ELLIPSIS.split(norm)]
    return [f for f in frags if any(c.isalnum() for c in _BRACKET.sub("", f))]


def _unspaced(ch: str) -> bool:
    """A character of a script written without spaces between words (no word boundaries)."""
    return bool(_UNSPACED.match(ch))


def _case_class(ch: str) -> str:
    lo, up = ch.lower(), ch.upper()
    if lo == up or len(lo) != 1 or len(up) != 1:
        return re.escape(ch)
    return f"[{re.escape(up)}{re.escape(lo)}]"


def fragment_regex(fragment: str, case: CasePolicy = "first", bracket_max_words: int = 4) -> re.Pattern:
    """The regular expression a normalized fragment must match in the normalized article."""
    brackets: list[str] = []

    def hold(m: re.Match) -> str:
        brackets.append(m.group(0))
        return f"\x00{len(brackets) - 1}\x00"

    words = [w for w in _BRACKET.sub(hold, fragment).split(" ") if w]
    while words and _PLACEHOLDER.fullmatch(words[0]):
        words.pop(0)  # a leading or trailing insertion can always match nothing
    while words and _PLACEHOLDER.fullmatch(words[-1]):
        words.pop()
    first_letter = case == "first"
    parts: list[str] = []
    need_space = False
    for w in words:
        slot = _insertion_slot(w, brackets, bracket_max_words, at_start=not parts)
        if slot is not None:
            parts.append(slot)
            need_space = True
            continue
        rx = " " if need_space else ""
        pieces = _PLACEHOLDER.split(w)
        for k, piece in enumerate(pieces):
            if _PLACEHOLDER.fullmatch(piece):
                inner = brackets[int(piece.strip("\x00"))][1:-1]
                nxt = pieces[k + 1] if k + 1 < len(pieces) else ""
                if len(inner) == 1 and inner.isalpha() and nxt[:1].isalpha():
                    rx += _case_class(inner)
                else:
                    rx += rf"\S{{0,{_GLUED_MAX_CHARS}}}?"
                first_letter = False
                continue
            for ch in piece:
                if first_letter and ch.isalpha():
                    rx += _case_class(ch)
                    first_letter = False
                else:
                    rx += re.escape(ch)
                    first_letter = first_letter and not ch.isalnum()
        parts.append(rx)
        need_space = True
    body = "".join(parts)
    if words and ((words[0][:1].isalnum() and not _unspaced(words[0][0])) or words[0].startswith("\x00")):
        body = r"(?<![^\W_])" + body
    if words and words[-1][-1:].isalnum() and not _unspaced(words[-1][-1]):
        body += r"(?![^\W_])"
    return re.compile(body, re.IGNORECASE if case == "insensitive" else 0)


def _insertion_slot(word: str, brackets: list[str], max_words: int, at_start: bool) -> str | None:
    """The regex of a word that is one ``[insertion]`` (maybe with punctuation around it):
    0..max_words article words, or the bracket itself. None for any other word."""
    pieces = _PLACEHOLDER.split(word)
    holders = [p for p in pieces if _PLACEHOLDER.fullmatch(p)]
    if len(holders) != 1 or any(c.isalnum() for p in pieces if p not in holders for c in p):
        return None
    prefix, _, suffix = pieces
    lit = re.escape(brackets[int(holders[0].strip("\x00"))])
    if prefix or at_start:
        space = "" if at_start else " "
        return (f"{space}{re.escape(prefix)}(?:{lit}|\\S+(?: \\S+){{0,{max_words - 1}}}?)?"
                f"{re.escape(suffix)}")
    return rf"(?:(?: \S+){{0,{max_words}}}?| {lit}){re.escape(suffix)}"


def plain_fragment(fragment: str) -> str:
    """A fragment without its editorial insertions, for fuzzy comparison."""
    text = re.sub(r"\[([A-Za-z])\](?=[^\W\d_])", r"\1", fragment)
    return " ".join(_BRACKET.sub(" ", text).split())


@dataclass
class QuoteCheck:
    """The verdict on one quotation. ``spans`` are ``[start, end)`` offsets in the original
    article, one per fragment (the verbatim match, or the closest span when altered)."""

    verdict: Verdict
    similarity: float
    spans: list[tuple[int, int]] = field(default_factory=list)
    closest: Optional[str] = None
    differences: list[dict[str, str]] = field(default_factory=list)
    fragments: int = 1
    note: Optional[str] = None


class ArticleIndex:
    """An article normalized once, to check any number of quotations against it."""

    def __init__(self, article: str, case: CasePolicy = "first", bracket_max_words: int = 4,
                 altered_threshold: float = 0.75):
        self.article = article
        self.case = case
        self.bracket_max_words = bracket_max_words
        self.altered_threshold = altered_threshold
        self.norm, self._omap = normalize(article)
        self._words = [(m.start(), m.end()) for m in re.finditer(r"\S+", self.norm)]
        self._search = WindowSearch(self.norm, self._words)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original-article offsets of the normalized span ``[start, end)``."""
        if end <= start:
            o = self._omap[start] if start < len(self._omap) else len(self.article)
            return o, o
        return self._omap[start], self._omap[end - 1] + 1

    def check(self, quote_text: str) -> QuoteCheck:
        frags = split_fragments(quote_text)
        if not frags:
            return QuoteCheck("verbatim", 1.0, [], fragments=0, note="nothing to check")
        regexes = [fragment_regex(f, self.case, self.bracket_max_words) for f in frags]
        spans, pos = [], 0
        for rx in regexes:
            m = rx.search(self.norm, pos)
            if m is None:
                break
            spans.append(self.original_span(m.start(), m.end()))
            pos = m.end()
        else:
            return QuoteCheck("verbatim", 1.0, spans, fragments=len(frags))
        return self._closest(frags, regexes)

    def _closest(self, frags: list[str], regexes: list[re.Pattern]) -> QuoteCheck:
        # each fragment found as it is, or its closest word window: a fragment longer than
        # PIECE_WORDS words is compared in pieces of that many words (linear in its length)
        pieces: list[tuple[str, float, tuple[int, int], bool]] = []  # (plain text, similarity, span, exact)
        exact = 0
        for frag, rx in zip(frags, regexes):
            plain = plain_fragment(frag)
            m = rx.search(self.norm)
            if m is not None:
                exact += 1
                pieces.append((plain, 1.0, (m.start(), m.end()), True))
                continue
            words = plain.split()
            starts = list(range(0, max(1, len(words)), PIECE_WORDS))
            if len(starts) > MAX_PIECES:  # evenly spread pieces stand for a very long fragment
                starts = [starts[k * (len(starts) - 1) // (MAX_PIECES - 1)] for k in range(MAX_PIECES)]
            for k in starts:
                piece = " ".join(words[k:k + PIECE_WORDS])
                sim, window = self._search.best(piece)
                pieces.append((piece, sim, window, False))
        weights = [max(1, len(p[0])) for p in pieces]
        similarity = sum(p[1] * w for p, w in zip(pieces, weights)) / sum(weights)
        note = None
        if exact == len(frags):
            note = "every fragment is in the article, but not in this order"
        elif similarity == 1.0:
            note = "differs only in letter case"
        if similarity < self.altered_threshold:
            return QuoteCheck("not_found", round(similarity, 4), [], None, [], len(frags), note)
        spans, texts, diffs = [], [], []
        for plain, _, (s, e), is_exact in pieces:
            if not is_exact:  # what changed, and the span the piece stands for
                (s, e), found = self._explain(plain, s, e)
                diffs.extend(found)
            span = self.original_span(s, e)
            spans.append(span)
            texts.append(self.article[span[0]:span[1]])
        return QuoteCheck("altered", round(similarity, 4), spans, " … ".join(texts), diffs, len(frags), note)

    def _keys(self, quote: list[str], article: list[str]) -> tuple[list[str], list[str]]:
        """Words as compared for the list of differences: edge punctuation off; case policy
        ``insensitive`` folds case, ``first`` lets the quotation's first word change the case
        of its first letter to match an article word."""
        qkeys = [w.strip(_EDGE) for w in quote]
        akeys = [w.strip(_EDGE) for w in article]
        if self.case == "insensitive":
            return [k.casefold() for k in qkeys], [k.casefold() for k in akeys]
        if self.case == "first" and qkeys and qkeys[0] and qkeys[0] not in akeys:
            swapped = qkeys[0][0].swapcase() + qkeys[0][1:]
            if swapped in akeys:
                qkeys[0] = swapped
        return qkeys, akeys

    def _explain(self, plain: str, ws: int, we: int) -> tuple[tuple[int, int], list[dict[str, str]]]:
        """The normalized span a fragment stands for around the word window [ws, we), and its
        word differences (see :mod:`evalkit.quote_diff`)."""
        quote = [w for w in plain.split() if w.strip(_EDGE)]
        if not self._words or we <= ws:
            return (0, 0), []
        if len(quote) > MAX_ALIGN_WORDS:
            region = list(range(ws, we))
        else:
            pad = max(4, len(quote) // 2)
            region = list(range(max(0, ws - pad), min(len(self._words), we + pad)))
        region = [i for i in region if self._word(i).strip(_EDGE)]
        article = [self._word(i) for i in region]
        qkeys, akeys = self._keys(quote, article)
        if len(quote) > MAX_ALIGN_WORDS or not article:
            a0, a1, ops = 0, len(article), [("changed", 0, len(quote), 0, len(article))]
        else:
            a0, a1, ops = align(qkeys, akeys)
        if a1 <= a0:
            a0, a1 = 0, len(article)
        s = self._words[region[a0]][0] if article else self._words[ws][0]
        e = self._words[region[a1 - 1]][1] if article else self._words[we - 1][1]
        text = self.norm[s:e].strip(_EDGE)
        s = self.norm.index(text, s) if text else s
        diffs = differences(quote, article, ops) if ops != [("equal", 0, len(quote), a0, a1)] else []
        return (s, s + len(text)), diffs

    def _word(self, i: int) -> str:
        return self.norm[self._words[i][0]:self._words[i][1]]


def check_quote(quote_text: str, article: str, **options) -> QuoteCheck:
    """Check one quotation against one article (build an :class:`ArticleIndex` to check many)."""
    return ArticleIndex(article, **options).check(quote_text)
