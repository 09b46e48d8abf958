"""Quotation layouts as newswire writes them, built from sentences of real SummEval articles:
every planted quotation is extracted exactly once, with its exact span (issue 11).

Layouts: single / double, straight / curly marks; quotations before or after their
attribution or inside a sentence; quotations over several paragraphs whose parts are never
closed (``‘A. ‘B.’``), flattened into one line as in CNN/DailyMail or kept as paragraphs;
nested quotations of the other kind and of the same kind; elisions, possessives and decades
around and inside quotations; quotations opening with a digit, a hyphenated word or a lower-case
word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from summeval_data import summeval_articles

from evalkit.quotes import all_quotes, extract_quotes
from evalkit.text import split_sentences

_MARKS = re.compile(r"['’‘\"“”`«»]")


def _clean(sentence: str) -> bool:
    """A sentence with no quote mark except apostrophes inside words, ending a sentence, no caption."""
    if not re.search(r"[a-z]\.$|[!?]$", sentence) or len(sentence) > 300 or "  " in sentence:
        return False
    return all(0 < m.start() < len(sentence) - 1 and sentence[m.start() - 1].isalnum()
               and sentence[m.start() + 1].isalnum() for m in _MARKS.finditer(sentence))


SENTENCES = sorted({s for a in summeval_articles("source_raw") for s in split_sentences(a) if _clean(s)})
STYLES = {"straight single": ("'", "'"), "curly single": ("‘", "’"),
          "straight double": ('"', '"'), "curly double": ("“", "”")}
OTHER = {"'": ('"', '"'), "‘": ("“", "”"), '"': ("'", "'"), "“": ("‘", "’")}
ELISIONS = ["the ’90s", "the '80s", "rock ’n’ roll", "rock 'n' roll", "the players' union", "the Smiths' house",
            "six o'clock", "the students’ union", "Starmer’s plan", "let 'em play", "’til dawn"]
OPENINGS = ["20 people", "1,500 fans", "re-elected", "well-known", "only", "2015"]  # not capitalised


@dataclass
class Doc:
    text: str = ""
    spans: list[tuple[int, int]] = field(default_factory=list)

    def add(self, piece: str) -> int:
        start = len(self.text)
        self.text += piece
        return start


sentence = st.sampled_from(SENTENCES)
style = st.sampled_from(sorted(STYLES))


@st.composite
def narration(draw, doc: Doc) -> None:
    text = draw(sentence)
    if draw(st.booleans()):
        text += f" It was {draw(st.sampled_from(ELISIONS))} again."
    doc.add(text)


@st.composite
def quotation(draw, doc: Doc) -> None:
    """One closed quotation, maybe with a nested one, placed before, after or inside its sentence."""
    o, c = STYLES[draw(style)]
    content = draw(sentence)
    if draw(st.booleans()):
        content = f"{draw(st.sampled_from(OPENINGS))} {content[0].lower()}{content[1:]}"
    if draw(st.booleans()):
        content = f"{content[:-1]}, and {draw(st.sampled_from(ELISIONS))} too."
    inner = None
    if draw(st.booleans()):
        io, ic = OTHER[o] if draw(st.booleans()) else (o, c)  # the other kind, or the same kind mid-sentence
        words = content[:-1].split(" ")
        cut = draw(st.integers(1, max(1, len(words) - 1)))
        take = draw(st.integers(1, 3))
        head, body, tail = " ".join(words[:cut]), " ".join(words[cut:cut + take]), " ".join(words[cut + take:])
        if (body and tail and body[0].isalpha() and body[-1].isalnum() and not _MARKS.search(body)
                and head[-1] not in ".!?"  # "the U.S. ‘...’" reads as a new sentence
                and not (ic in "'’" and body[-1] in "sS")):
            content = f"{head} {io}{body}{ic} {tail}{content[-1]}"
            inner = (len(head) + 1, len(head) + 1 + len(io) + len(body) + len(ic))
    where = draw(st.sampled_from(["after", "before", "inside"]))
    if where == "after":
        start = doc.add("The official said: ") + len("The official said: ")
        doc.add(f"{o}{content}{c}")
    elif where == "before":
        start = doc.add(f"{o}{content[:-1]},{c} the official said.")
        content = content[:-1] + ","
    else:
        start = doc.add("He described it as ") + len("He described it as ")
        content = content[:-1]
        doc.add(f"{o}{content}{c} on Monday.")
    doc.spans.append((start, start + len(o) + len(content) + len(c)))
    if inner is not None:
        doc.spans.append((start + len(o) + inner[0], start + len(o) + inner[1]))


@st.composite
def paragraphs(draw, doc: Doc) -> None:
    """A quotation over 2-4 paragraphs: each part opens with a mark, only the last one closes;
    the paragraphs flattened into one line (CNN/DailyMail) or kept apart by blank lines."""
    o, c = STYLES[draw(style)]
    parts = draw(st.lists(sentence, min_size=2, max_size=4))
    if draw(st.booleans()):
        k = draw(st.integers(0, len(parts) - 1))
        parts[k] = f"{parts[k][:-1]}, said {draw(st.sampled_from(ELISIONS))} today."
    joiner = draw(st.sampled_from([" ", "\n\n"]))
    doc.add("The manager said:" + joiner)
    for k, part in enumerate(parts):
        if k:
            doc.add(joiner)
        last = k == len(parts) - 1
        start = doc.add(f"{o}{part}{c if last else ''}")
        doc.spans.append((start, start + len(o) + len(part) + (len(c) if last else 0)))
    if joiner == "\n\n":
        doc.add(joiner)


@st.composite
def document(draw) -> Doc:
    doc = Doc()
    blocks = draw(st.lists(st.sampled_from(["narration", "quotation", "paragraphs"]), min_size=1, max_size=6))
    for k, block in enumerate(blocks):
        if k and not doc.text.endswith("\n"):
            doc.add(" ")
        draw({"narration": narration, "quotation": quotation, "paragraphs": paragraphs}[block](doc))
    return doc


def test_enough_real_sentences():
    assert len(SENTENCES) > 800


@settings(max_examples=1000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=document())
def test_every_planted_quotation_is_extracted_once_with_its_span(doc):
    got = [(q.start, q.end) for q in all_quotes(doc.text)]
    assert sorted(got) == sorted(doc.spans), (doc.text, [doc.text[s:e] for s, e in got])
    assert len(set(got)) == len(got)
    for q in extract_quotes(doc.text):
        assert q.depth == 0 and all(n.depth == 1 for n in q.nested)
