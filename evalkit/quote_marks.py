"""Quote marks in text and what each one can do: open a quotation, close one, or neither
(an apostrophe, an elision, a measure). Used by :mod:`evalkit.quotes`, which pairs them.

A mark's role is read from its neighbours, as a reader does (docs/metrics-faithfulness.md
has the full policy):

- between two letters or digits it is an apostrophe (``don’t``, ``O'Neill``, ``1970's``);
- at the start of a word (after a space, a bracket, a dash, a colon or another mark) it may
  open, at the end of one (before a space, punctuation or the end) it may close;
- a single mark opening a known elision is none: ``’90s``, ``'em``, ``’til``, ``'tis``,
  ``rock ’n’ roll``, a year after a word of time (``in '94``, ``Sep 4, '03``) and tokenized
  contractions (``team 's``, ``I 'm``); ``'20 people`` and ``'re-elected`` do open;
- a single mark after a letter and before a lower-case word, or after an ``s`` (``players'
  union``, ``goin' home``, ``the Blues' title``) closes *weakly*: it closes a quotation only
  when the closing marks of its kind that follow before the next opening one cannot close
  every open quotation. One shaped like a possessive or an elision (after ``s``, after
  ``in``) also yields to a later weak one that is not (``'for the players' union too' on``);
- an opening mark *starts a sentence* when the text before it ends with ``.``, ``!``, ``?`` or
  ``…`` (closing marks and brackets skipped): the newspaper convention for a quotation over
  several paragraphs (each paragraph opens with a mark, only the last one closes) shows
  this way in text whose paragraphs were flattened into one line, as in CNN/DailyMail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: glyph -> family; marks of one family close each other's quotations
FAMILY = {
    '"': "double", "“": "double", "”": "double", "„": "double", "‟": "double",
    "'": "single", "‘": "single", "’": "single", "‚": "single", "‛": "single",
    "«": "guillemet", "»": "guillemet", "‹": "single_guillemet", "›": "single_guillemet",
    # tokenized (PTB / CNN-DailyMail) text: `single' and ``double''
    "`": "single", "``": "double", "''": "double",
    # CJK corner brackets: unambiguous, and CJK text has no spaces around them
    "「": "corner", "」": "corner", "『": "white_corner", "』": "white_corner",
}
QUOTE_GLYPHS = frozenset(g for g in FAMILY if len(g) == 1)
#: what may close a quotation opened by a glyph
CLOSERS = {
    '"': ('"', "”"), "“": ("”", '"'), "„": ("“", "”", '"'), "‟": ("”", '"'), "”": ("”", '"'),
    "'": ("'", "’"), "‘": ("’", "'"), "‚": ("‘", "’", "'"), "‛": ("’", "'"), "`": ("'", "’"),
    "«": ("»",), "»": ("«",), "‹": ("›",), "›": ("‹",), "``": ("''",), "「": ("」",), "『": ("』",),
}
_UNAMBIGUOUS = {"「": (True, False), "」": (False, True), "『": (True, False), "』": (False, True)}
#: marks that open only as a fallback ("Swedish" ”…”, reversed »…«)
CLOSING_ONLY = frozenset({"”", "’", "»", "›", "''"})
NEVER_OPEN = frozenset({"’", "''"})
_OPEN_CONTEXT = set("([{<-–—/:") | QUOTE_GLYPHS
_CLOSE_CONTEXT = set(".,;:!?)]}>-–—/…") | QUOTE_GLYPHS
_SINGLE = set("'’‘")
_SENTENCE_END = set(".!?…")
_SKIP_BACK = set("'’\"”)]»") | {"\u00a0"}

_ELISION = re.compile(
    r"\d\d(?:s|['’]s)(?![\w'’])"  # ’90s, '60's
    r"|(?:em|cause|cos|til|bout|n|s|m|re|ve|ll|d)(?![\w'’-])"  # 'em, ’til, tokenized "team 's"; not 're-elected
    r"|(?i:tis|twas)(?![\w'’])")
_YEAR_AFTER = re.compile(  # "in '94", "the class of ’03", "Sep 4, '03": a year, not a quotation
    r"(?:\b(?i:in|of|since|from|until|till|by|to|before|after|during|circa|summer|winter|spring|autumn|fall"
    r"|class|season|vintage|jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march"
    r"|april|june|july|august|september|october|november|december)\.?|\b\d{1,2}(?:st|nd|rd|th)?,)\s*$")
_TWO_DIGITS = re.compile(r"\d\d(?![\w'’])")
_ROCK_N_ROLL = re.compile(r"(?<!\S)['’‘]n['’](?=\s)", re.IGNORECASE)
_FEET_INCHES = re.compile(r"(?<![\w.,])\d['’′]\s?\d{1,2}(?:\.\d+)?(?:\"|”|″|(?![\w'’]))")


@dataclass
class Mark:
    """One quote mark: where, which glyph (two characters for tokenized ```` `` ```` and
    ``''``), and what it can do."""

    pos: int
    glyph: str
    can_open: bool
    can_close: bool
    weak_close: bool = False  # may be an apostrophe (players' union): closes only as a last resort
    apostrophe_like: bool = False  # a weak closer shaped like a possessive or elision (fans', goin')
    before_lower: bool = False  # a weak closer followed by a lower-case word: the sentence goes on
    starts_sentence: bool = False  # an opening mark at the start of a sentence
    after_colon: bool = False  # an opening mark after "said:"

    @property
    def family(self) -> str:
        return FAMILY[self.glyph]

    @property
    def opener_only(self) -> bool:
        return self.can_open and not self.can_close

    @property
    def strong_close(self) -> bool:
        return self.can_close and not self.weak_close

    @property
    def soft_close(self) -> bool:
        """A weak closer not shaped like a possessive: ``'a win for them' on Monday``."""
        return self.weak_close and not self.apostrophe_like


def _skipped_positions(text: str) -> set[int]:
    skip: set[int] = set()
    for rx in (_ROCK_N_ROLL, _FEET_INCHES):
        for m in rx.finditer(text):
            skip.update(i for i in range(m.start(), m.end()) if text[i] in FAMILY)
    return skip


def _starts_sentence(text: str, i: int) -> bool:
    j = i - 1
    while j >= 0 and (text[j].isspace() or text[j] in _SKIP_BACK):
        if text[j] == "\n":
            return True
        j -= 1
    return j < 0 or text[j] in _SENTENCE_END


def _after_colon(text: str, i: int) -> bool:
    j = i - 1
    while j >= 0 and text[j].isspace():
        j -= 1
    return j >= 0 and text[j] == ":"


def _is_elision(text: str, i: int) -> bool:
    """The single mark at ``i`` begins an elision or a two-digit year, not a quotation."""
    if _ELISION.match(text, i + 1):
        return True
    return bool(_TWO_DIGITS.match(text, i + 1) and _YEAR_AFTER.search(text, max(0, i - 24), i))


def classify(text: str) -> list[Mark]:
    """Every quote mark of ``text`` that may open or close a quotation, in order."""
    skip = _skipped_positions(text)
    marks: list[Mark] = []
    backticks = False
    n_text = len(text)
    i = -1
    while i + 1 < n_text:
        i += 1
        ch = text[i]
        if ch not in FAMILY or i in skip:
            continue
        if text.startswith("``", i) or (backticks and text.startswith("''", i)):
            ch = text[i:i + 2]
            backticks = True
        p = text[i - 1] if i > 0 else None
        n = text[i + len(ch)] if i + len(ch) < n_text else None
        if ch in _UNAMBIGUOUS:
            marks.append(Mark(i, ch, *_UNAMBIGUOUS[ch]))
            continue
        if (p is None or p.isspace()) and (n is None or n.isspace()) and ch not in "«»‹›":
            # a mark standing alone (tokenized text: `` it is over . '') closes an open quotation;
            # only backticks open one, and any mark after a colon (tokenized "said : ' I ...")
            colon = _after_colon(text, i)
            marks.append(Mark(i, ch, ch in ("`", "``") or colon, p is not None and not colon, after_colon=colon))
            i += len(ch) - 1
            continue
        if ch in _SINGLE and p is not None and n is not None and p.isalnum() and n.isalnum():
            continue  # don't, Starmer’s, O'Neill, 1970's
        spaced = ch in "«»‹›"  # French typography puts a space inside guillemets: « texte »
        can_open = (n is not None and (spaced or not n.isspace())
                    and (p is None or p.isspace() or p in _OPEN_CONTEXT))
        can_close = (p is not None and (spaced or not p.isspace())
                     and (n is None or n.isspace() or n in _CLOSE_CONTEXT))
        if ch in _SINGLE and can_open and not can_close and _is_elision(text, i):
            continue
        weak = apostrophe_like = lower = False
        if ch in "'’" and can_close and p is not None and p.isalpha():
            rest = text[i + 1:i + 3]
            apostrophe_like = p in "sS" or text[i - 2:i] == "in"
            lower = len(rest) == 2 and rest[0] == " " and rest[1].islower()
            weak = lower or (apostrophe_like and rest[:1] == " ")
        marks.append(Mark(i, ch, can_open, can_close, weak, weak and apostrophe_like, lower,
                          can_open and _starts_sentence(text, i), can_open and _after_colon(text, i)))
        i += len(ch) - 1
    return marks
