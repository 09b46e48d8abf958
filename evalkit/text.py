"""Text utilities shared by backends and metrics: sentence splitting, the one-sentence-per-line
form rougeLsum reads, and key-point parsing.

The sentence policy lives here and only here (``split_sentences``; ``sentence_lines`` for
ROUGE). It needs no downloaded data: pysbd (pure rules) does the splitting, with these rules
around it:

- line breaks always end a sentence: a bullet list is never merged into one sentence, and
  text already written one sentence per line (key points, a backend's sentences) is only
  split further where a line holds several sentences;
- each line is first cut after every whitespace-separated ``.``, ``!`` or ``?`` token, which
  only fires on tokenized (PTB / CNN-DailyMail) text such as ``epidemic . ' Their``;
- a piece without letters or digits (a closing ``'`` pysbd put on a line of its own) joins
  the sentence before it; a cut after a title (``Army Spc.`` / ``Caleb``) or after ``a.m.`` /
  ``p.m.`` followed by a day, month or time zone (``2 a.m.`` / ``Wednesday.``) is undone;
- **idempotent**: every sentence returned, split again, is itself. pysbd keeps a quotation of
  several sentences together inside a paragraph but cuts it when it stands alone, so each
  sentence is split again until it is stable;
- **fast path**: a piece pysbd cannot cut is not given to it (:func:`_one_sentence`): no
  sentence mark (``. ! ? …`` and their full-width forms, ``\r``) before its final
  punctuation and at most one in it, no closing quotation mark or bracket followed by a capital, no ``x)`` list
  marker and no ``) "`` (pysbd's only other cuts). Key points, one-sentence lines and the pieces of tokenized text between
  `` . `` stops mostly take it; the output is the same as pysbd's (tested on every SummEval
  and shipped-gold text);
- **split once per run**: while a :class:`TextStore` is active (``with text_store():``, opened
  by the pipeline for a whole run and by scoring), each distinct text is split once and its
  sentences reused by backends (lead, TextRank, ...) and metrics alike, keyed by content with
  no size limit for the life of the store (a fixed-size LRU thrashes once a gold set
  outgrows it: every system re-splits every article);
- **linear time**: pysbd's abbreviation pass is quadratic in the length of what it is given,
  so a long paragraph is fed to it in windows of ``CHUNK_CHARS`` (a window's last sentence,
  which the window may have cut short, is re-read with the next one). On ordinary text the
  result is the same as one pysbd call (tested on SummEval articles joined into one
  paragraph); a single "sentence" longer than ``CHUNK_CHARS`` is cut at a space.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, Optional, TypeVar

from evalkit.sbd import segment

SplitPolicy = Literal["pysbd", "newline"]

#: the most characters pysbd is given at once (its abbreviation pass is quadratic)
CHUNK_CHARS = 4000
#: a window's sentences that end within this many characters of its end are re-read
_CHUNK_MARGIN = 1000

_BULLET = re.compile(r"^\s*(?:[-*•‣◦▪–—]|\d{1,3}[.)]|\(\d{1,3}\)|[a-zA-Z][.)](?=\s))\s+")
_TOKENIZED_STOP = re.compile(r"(?<=\s[.!?])\s+")
_KP_HEADER = re.compile(
    r"^\s*(?:#{1,6}\s*)?(?:\*\*|__)?\s*key[\s_-]*(?:points|takeaways|facts)\s*(?:\*\*|__)?\s*:?\s*(?:\*\*|__)?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
#: titles written before a name: a cut after one of them is not a sentence end
_TITLE_END = re.compile(
    r"(?:^|[\s(\"'‘“])(?:Spc|Pfc|Pvt|Cpl|L/Cpl|Sgt|Ssgt|Lt|Capt|Maj|Col|Gen|Brig|Adm|Cmdr|Cdr|Ens|Cmdt|"
    r"Insp|Supt|Det|Const|Sgt\.\s?Maj|Gov|Sen|Rep|Atty|Amb|Pres|Prof|Dr|Mr|Mrs|Ms|Messrs|Rev|Fr|Hon|Gen)\.$")
_CLOCK_END = re.compile(r"(?:^|\s)\d{1,2}(?:[:.]\d\d)?\s?[ap]\.m\.$", re.IGNORECASE)
_AFTER_CLOCK = re.compile(
    r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|January|February|March|April|May|June|July|August"
    r"|September|October|November|December|(?:[ECMP][SD]?T|GMT|BST|UTC|CET|CEST|AEST|AEDT)\b|local\b)")
_INNER_STOP = re.compile(r"[.!?…。！？\n]")
#: pysbd's sentence marks: one before a piece's final punctuation may be a cut
_SENTENCE_MARK = re.compile(r"[.!?…。．！？]")
#: pysbd's other cuts, anywhere in a piece: ``\r``; a closing quotation mark or bracket before a
#: capital (its quotation/parenthesis boundary rules); a list marker ``1)`` / ``a)`` / ``(iv)``;
#: a parenthesis between double quotes (``"…" (…) "…"``)
_PYSBD_CUT = re.compile(r"\r|[)）」'\"”’»]\s?[A-Z]|[0-9A-Za-z]\)|\)\s[\"“]")
_TRAILING = re.compile(r"[\s.!?…。！？'\"’”‘“»«)\]}]+$")


T = TypeVar("T")


class TextStore:
    """What a run derives from its texts, keyed by content: each text's sentences, and any
    other per-text value a metric asks for (:meth:`memo`: tokens, figures, quote indexes).

    No size limit: it lives as long as one run (or one scoring call) and holds what that run
    reads once. Shared by the backends and every metric of the run (``ScoringContext.texts``).
    Safe to use from several threads (a value computed twice by a race is the same value).
    """

    def __init__(self) -> None:
        self._spans: dict[str, tuple[tuple[int, int], ...]] = {}
        self._memo: dict[tuple[str, Any], Any] = {}
        self.splits = 0  # texts actually split (misses)
        self.reuses = 0  # sentence look-ups answered from the store

    def spans(self, text: str) -> tuple[tuple[int, int], ...]:
        got = self._spans.get(text)
        if got is None:
            got = self._spans[text] = tuple(_compute_spans(text))
            self.splits += 1
        else:
            self.reuses += 1
        return got

    def sentences(self, text: str) -> list[str]:
        return [text[s:e] for s, e in self.spans(text)]

    def lines(self, text: str, policy: SplitPolicy = "pysbd") -> str:
        return self.memo(f"lines:{policy}", text, lambda t: _sentence_lines(t, policy, self))

    def memo(self, kind: str, key: Any, compute: Callable[[Any], T]) -> T:
        """``compute(key)``, once per (kind, key) for the life of the store."""
        k = (kind, key)
        try:
            got: T = self._memo[k]
            return got
        except KeyError:
            value = self._memo[k] = compute(key)
            return value

    def add_spans(self, spans: dict[str, tuple[tuple[int, int], ...]]) -> None:
        """Sentence spans computed elsewhere (a worker process) for these texts."""
        for text, sp in spans.items():
            if text not in self._spans:
                self._spans[text] = sp
                self.splits += 1

    def has_spans(self, text: str) -> bool:
        return text in self._spans

    def __len__(self) -> int:
        return len(self._spans)


_ACTIVE: list[TextStore] = []
_ACTIVE_LOCK = threading.Lock()


def active_store() -> Optional[TextStore]:
    """The store of the run in progress (the innermost :func:`text_store`), if any."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextmanager
def text_store(store: Optional[TextStore] = None) -> Iterator[TextStore]:
    """Make ``store`` (default: the active one, else a new one) the active store inside the block."""
    use = store if store is not None else (active_store() or TextStore())
    with _ACTIVE_LOCK:
        _ACTIVE.append(use)
    try:
        yield use
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.reverse()
            _ACTIVE.remove(use)  # the innermost entry of this store
            _ACTIVE.reverse()


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, in order, stripped; line breaks always end a sentence."""
    return [text[s:e] for s, e in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` offsets of the sentences of ``text`` (what :func:`split_sentences` returns)."""
    store = active_store()
    if store is not None:
        return list(store.spans(text))
    return _compute_spans(text)


def _compute_spans(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in _raw_spans(text, 0, len(text)):
        _refine(text, s, e, out)
    return out


def sentence_lines(text: str, policy: SplitPolicy = "pysbd") -> str:
    """``text`` one sentence per line, as rougeLsum reads it: a pure function of (text, policy).

    ``pysbd``: :func:`split_sentences` (a line that is already one sentence stays as it is);
    ``newline``: the text's own non-empty lines, stripped, nothing else cut.
    """
    return _sentence_lines(text, policy, active_store())


def _sentence_lines(text: str, policy: SplitPolicy, store: Optional[TextStore]) -> str:
    if policy == "pysbd":
        spans = store.spans(text) if store is not None else _compute_spans(text)
        return "\n".join(text[s:e] for s, e in spans)
    if policy == "newline":
        return "\n".join(line.strip() for line in text.splitlines() if line.strip())
    raise ValueError(f"unknown split policy {policy!r}")


def _stable_without_pysbd(piece: str) -> bool:
    """A piece with no sentence-ending mark before its final punctuation cannot be cut."""
    return _INNER_STOP.search(_TRAILING.sub("", piece)) is None


def _refine(text: str, s: int, e: int, out: list[tuple[int, int]]) -> None:
    """Append the stable sentences of ``text[s:e]``: split again until splitting changes nothing."""
    if _stable_without_pysbd(text[s:e]):
        out.append((s, e))
        return
    pieces = _raw_spans(text, s, e)
    if len(pieces) <= 1:
        out.append((s, e))
        return
    for ps, pe in pieces:
        _refine(text, ps, pe, out)


def _raw_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """One splitting pass over ``text[start:end]``: lines, tokenized stops, pysbd, repairs."""
    spans: list[tuple[int, int]] = []
    line_start = start
    while line_start <= end:
        nl = text.find("\n", line_start, end)
        line_end = end if nl < 0 else nl
        pos = line_start
        for m in _TOKENIZED_STOP.finditer(text, line_start, line_end):
            spans.extend(_piece_spans(text, pos, m.start()))
            pos = m.end()
        spans.extend(_piece_spans(text, pos, line_end))
        line_start = line_end + 1
    return spans


def _piece_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The sentences of one piece: itself when pysbd could not cut it, else pysbd's, repaired."""
    s, e = _strip(text, start, end)
    if e - s <= CHUNK_CHARS and _one_sentence(text, s, e):
        return [(s, e)] if e > s else []
    return _repair(text, _pysbd_spans(text, s, e))


def _one_sentence(text: str, s: int, e: int) -> bool:
    """True when pysbd returns ``text[s:e]`` whole: no mark it cuts at before the final
    punctuation (see ``_PYSBD_CUT``)."""
    m = _TRAILING.search(text, s, e)
    body_end = m.start() if m else e
    if len(_SENTENCE_MARK.findall(text, body_end, e)) > 1:  # "?!", "...": pysbd's rules for runs of marks
        return False
    return _SENTENCE_MARK.search(text, s, body_end) is None and _PYSBD_CUT.search(text, s, e) is None


def _strip(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _pysbd_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """pysbd's sentences of ``text[start:end]`` as stripped spans, fed in bounded windows."""
    start, end = _strip(text, start, end)
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        if end - pos <= CHUNK_CHARS:
            out.extend(_segment(text, pos, end))
            break
        cut = text.rfind(" ", pos + 1, pos + CHUNK_CHARS)
        window_end = cut if cut > pos else pos + CHUNK_CHARS
        pieces = _segment(text, pos, window_end)
        keep = [p for p in pieces[1:] if p[0] <= window_end - _CHUNK_MARGIN]
        if keep:
            nxt = keep[-1][0]
            out.extend(p for p in pieces if p[0] < nxt)
            pos = nxt
        else:  # one "sentence" longer than the window: cut it at the space
            out.append(_strip(text, pos, window_end))
            pos = window_end
        pos = _strip(text, pos, end)[0]
    return [p for p in out if p[1] > p[0]]


def _segment(text: str, start: int, end: int) -> list[tuple[int, int]]:
    chunk = text[start:end]
    spans, cursor = [], 0
    for sentence in segment(chunk):
        body = sentence.strip()
        if not body:
            continue
        at = chunk.find(body, cursor)
        if at < 0:  # pysbd changed the text (it should not with clean=False): keep what is left
            spans.append(_strip(text, start + cursor, end))
            return spans
        spans.append((start + at, start + at + len(body)))
        cursor = at + len(body)
    return spans


def _repair(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Undo pysbd's cuts that are not sentence ends (stray marks, titles, clock times)."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out:
            ps, pe = out[-1]
            prev, cur = text[ps:pe], text[s:e]
            if (not any(c.isalnum() for c in cur)
                    or (_TITLE_END.search(prev) and cur[:1].isupper())
                    or (_CLOCK_END.search(prev) and _AFTER_CLOCK.match(cur))):
                out[-1] = (ps, e)
                continue
        out.append((s, e))
    if len(out) > 1 and not any(c.isalnum() for c in text[out[0][0]:out[0][1]]):
        out[:2] = [(out[0][0], out[1][1])]  # a leading stray mark joins the first sentence
    return out


def strip_bullet(line: str) -> str:
    return _BULLET.sub("", line, count=1).strip()


def is_bullet(line: str) -> bool:
    return bool(_BULLET.match(line))


def split_key_points_block(text: str) -> tuple[str, str | None]:
    """(body, key-points block) — the block is what follows a "Key Points:" header, if any."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _KP_HEADER.match(line)
        if m and (m.group("rest") or i + 1 < len(lines)):
            block = "\n".join(([m.group("rest")] if m.group("rest").strip() else []) + lines[i + 1:])
            return "\n".join(lines[:i]).strip(), block
        if m:
            return "\n".join(lines[:i]).strip(), ""
    # an inline "Key Points:" inside a paragraph (e.g. "... Key Points: - A: x - B: y")
    m = re.search(r"\bkey points\s*:", text, re.IGNORECASE)
    if m:
        block = text[m.end():]
        return text[: m.start()].strip(), re.sub(r"\s+[-•*]\s+", "\n- ", " " + block).strip()
    return text.strip(), None


def _bullet_items(lines: list[str]) -> list[str]:
    """Bulleted / numbered items; an unmarked line continues the previous item."""
    items: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        if is_bullet(line) or not items:
            items.append(strip_bullet(line))
        else:
            items[-1] = f"{items[-1]} {line.strip()}"
    return [i for i in items if i]


def parse_key_points(text: str) -> list[str]:
    """Key points a system wrote, in order of preference:

    1. the items of a "Key Points:" block (bullets, numbers, or one per line);
    2. otherwise bulleted or numbered lines anywhere;
    3. otherwise one per non-empty line, if there are several lines;
    4. otherwise the sentences of the text.
    """
    if not text or not text.strip():
        return []
    _, block = split_key_points_block(text)
    if block is not None:
        lines = [line for line in block.splitlines() if line.strip()]
        if any(is_bullet(line) for line in lines):
            return _bullet_items(lines)
        return [line.strip() for line in lines]
    lines = [line for line in text.splitlines() if line.strip()]
    bullets = [line for line in lines if is_bullet(line)]
    if bullets:
        start = lines.index(bullets[0])
        return _bullet_items(lines[start:])
    if len(lines) > 1:
        return [line.strip() for line in lines]
    return split_sentences(text)


def word_count(text: str) -> int:
    return len(text.split())
