"""Build tests/data/summeval_quotes.jsonl: every quotation of the 100 SummEval articles
(`source_raw`), as character spans, marked by hand-checked rules.

How the annotation was made (and how to rebuild it):

1. ``scan(text)`` below is a scanner written independently of evalkit's extractor: it walks
   forward from each opening mark to find its closing one (evalkit makes one stack pass over
   all marks), with the rules R1-R6 listed on it.
2. ``--diff`` prints every span on which the scanner and ``evalkit.quotes.all_quotes``
   disagree, with its context.
3. Each disagreement was resolved by reading the article; the decision is recorded in
   ``DECISIONS`` (doc, span, keep or drop, reason). The fixture = scanner spans + decisions.
   A decision that no longer applies (its span is in neither the scanner's output nor the
   fixture) stops the build.

A span ``[start, end)`` covers the marks; a part of a quotation running over several
paragraphs (the CNN/DailyMail flattening of ``‘A. ‘B.’``: A's opening mark is never closed)
ends at its last non-space character before the next part's opening mark. Nested quotations
are spans of their own.

Run: .venv/bin/python scripts/annotate_quotes.py [--diff | --write]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
OUT = REPO / "tests" / "data" / "summeval_quotes.jsonl"

# R1: a single mark opens when it follows the start, a space, an opening bracket, a colon or a
# dash, is followed by a non-space, and is not one of the elisions below.
OPEN_SINGLE = re.compile(r"(?:(?<=^)|(?<=[\s(\[:—–-]))['‘](?=[^\s'’])")
ELISIONS = re.compile(r"['‘](?:\d\ds\b|em\b|til\b|tis\b|twas\b|cause\b|bout\b|n['’]\s|[smd]\b(?!-)|re\b(?!-)|ve\b|ll\b)")
YEAR_WORDS = re.compile(r"(?i:\b(?:in|of|since|from|to|by|class|summer|jan|feb|mar|apr|may|jun|jul|aug|sept?|oct"
                        r"|nov|dec)\.?|\d,)\s+$")
# R2: a single mark closes when it follows a non-space and precedes a space, punctuation or the end.
CLOSE_SINGLE = re.compile(r"(?<=\S)['’](?=[\s.,;:!?)\]—–-]|$)")
# R3 (double marks): curly ones by glyph; a straight one opens after start/space/bracket/colon/
# dash and closes before space/punctuation/end.
OPEN_DOUBLE = re.compile(r"“|(?:(?<=^)|(?<=[\s(\[:—–-]))\"(?=\S)")
CLOSE_DOUBLE = re.compile(r"”|(?<=\S)\"(?=[\s.,;:!?)\]'’—–-]|$)")
SENTENCE_END = re.compile(r"[.!?…]['’\"”)]*\s+$")


def _maybe_possessive(text: str, i: int) -> bool:
    """R4: a closing single mark after an s, or before a lower-case word, may be a possessive."""
    return text[i - 1] in "sS" or bool(re.match(r" [a-z]", text[i + 1:i + 3]))


def _resolve_maybes(marks: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """R4 continued: a 'maybe' closes when fewer certain closers come before the next opening
    mark than quotations are open (a running count of opening and closing marks); otherwise it
    is an apostrophe and dropped."""
    out, balance = [], 0
    for k, (pos, kind) in enumerate(marks):
        if kind == "open":
            balance += 1
        elif kind == "close":
            balance = max(0, balance - 1)
        else:
            ahead = 0
            for _, later in marks[k + 1:]:
                if later == "open":
                    break
                ahead += later == "close"
            if balance == 0 or ahead >= balance:
                continue
            balance -= 1
            kind = "close"
        out.append((pos, kind))
    return out


def _captions(text: str) -> list[tuple[int, int]]:
    """R7: runs of sentences ending in " ." (picture captions, in untokenized CNN/DailyMail text)."""
    if text.count(" . ") * 2 > text.count(". "):
        return []  # tokenized text: every sentence ends so
    runs: list[tuple[int, int]] = []
    for m in re.finditer(r"(?:^|(?<=[.!?]\s)|(?<=[.!?]['’\"”)]\s))[^.!?]*?\w \.(?=\s|$)", text):
        if runs and text[runs[-1][1]:m.start()].strip() == "":
            runs[-1] = (runs[-1][0], m.end())
        else:
            runs.append((m.start(), m.end()))
    return runs


def _marks(text: str, family: str) -> list[tuple[int, str]]:
    """(position, 'open' | 'close' | 'maybe') for one family of marks."""
    out: dict[int, str] = {}
    if family == "single":
        for m in CLOSE_SINGLE.finditer(text):
            if text[m.start() - 1].isalnum() and m.end() < len(text) and text[m.end()].isalnum():
                continue
            out[m.start()] = "maybe" if text[m.start() - 1].isalpha() and _maybe_possessive(text, m.start()) else "close"
        for m in OPEN_SINGLE.finditer(text):
            i = m.start()
            if ELISIONS.match(text, i):
                continue
            if re.match(r"\d\d\b", text[i + 1:i + 3] + " ") and YEAR_WORDS.search(text[max(0, i - 12):i]):
                continue
            out[i] = "open"
    else:
        for m in CLOSE_DOUBLE.finditer(text):
            out[m.start()] = "close"
        for m in OPEN_DOUBLE.finditer(text):
            out.setdefault(m.start(), "open")
    return _resolve_maybes(sorted(out.items()))


def scan(text: str) -> list[tuple[int, int]]:
    """Spans of every quotation of ``text`` (R5, R6: the forward walk from each opening mark).

    R5: from an opening mark, walk forward: an opening mark of the same family that follows a
    sentence end while no nested quotation is open ends this quotation before it (the next
    paragraph of it); any other opening mark starts a nested quotation; a closing mark closes
    the innermost; a 'maybe' closes only when the next certain mark of the family opens.
    R6: an opening mark never closed (and not ended by R5) is no quotation.
    R7: a caption run met while no nested quotation is open ends the quotation before it when
    the caption is followed at once by an opening mark of the family.
    """
    spans = []
    captions = _captions(text)
    for family in ("single", "double"):
        marks = _marks(text, family)
        for k, (pos, kind) in enumerate(marks):
            if kind != "open":
                continue
            depth = 0
            for j in range(k + 1, len(marks)):
                p2, k2 = marks[j]
                cut = next((c for c in captions if pos < c[0] <= p2), None)
                if cut is not None and depth == 0:
                    after = next(((p3, k3) for p3, k3 in marks[j:] if p3 >= cut[1]), None)
                    if after and after[1] == "open" and not text[cut[1]:after[0]].strip():
                        end = cut[0]
                        while text[end - 1].isspace():
                            end -= 1
                        spans.append((pos, end))
                        break
                if k2 == "open":
                    if depth == 0 and SENTENCE_END.search(text[pos:p2]):
                        end = p2
                        while text[end - 1].isspace():
                            end -= 1
                        spans.append((pos, end))
                        break
                    depth += 1
                    continue
                if depth == 0:
                    if text[pos + 1:p2].strip():
                        spans.append((pos, p2 + 1))
                    break
                depth -= 1
    return sorted(spans)


#: every disagreement between the scanner and evalkit, resolved by reading the article:
#: (doc_id prefix, start, end, keep?, reason)
DECISIONS: list[tuple[str, int, int, bool, str]] = [
    ("dm-test-9b5a04b9", 1343, 1703, False,
     "'I can't help ... on a string. is never closed: a caption (Mr Gordon ... history .) and a sentence of "
     "narration (The statement has sparked criticism ...) follow before the next quotation, so the scanner's "
     "span runs over text nobody said; an opening mark never closed delimits nothing (R6)"),
]
#: quotations a reader recognises but whose closing mark is missing from the text, so that no
#: rule can find where they end; not in the annotation (R6), listed so that the docs can say so
UNCLOSED_IN_SOURCE: list[tuple[str, int, str]] = [
    ("dm-test-8b59fa77", 355, "'I’m still learning ... 37 years old. (a caption follows, then other text)"),
    ("dm-test-9b5a04b9", 1343, "'I can't help but think ... on a string. (a caption and narration follow)"),
    ("dm-test-b255397e", 1411, "'No wonder it was taking so long ... every little kid. (then 'Scroll down', the end)"),
    ("dm-test-0cd10ad5", 2008, "'I didn't want people to know ... asking questions. (narration follows)"),
]


def build() -> list[dict]:
    from summeval_data import summeval_rows

    docs: dict[str, str] = {}
    for r in summeval_rows():
        docs.setdefault(r["doc_id"], r["source_raw"])
    rows = []
    used = set()
    for doc_id, text in docs.items():
        spans = set(scan(text))
        for k, (prefix, s, e, keep, _) in enumerate(DECISIONS):
            if doc_id.startswith(prefix):
                used.add(k)
                (spans.add if keep else spans.discard)((s, e))
        rows.append({"doc_id": doc_id, "spans": [list(s) for s in sorted(spans)]})
    unused = [DECISIONS[k] for k in range(len(DECISIONS)) if k not in used]
    if unused:
        raise SystemExit(f"decisions for unknown documents: {unused}")
    return rows


def diff() -> int:
    from summeval_data import summeval_rows

    from evalkit.quotes import all_quotes

    n = 0
    seen = set()
    for r in summeval_rows():
        if r["doc_id"] in seen:
            continue
        seen.add(r["doc_id"])
        text = r["source_raw"]
        ours = set(scan(text))
        theirs = {(q.start, q.end) for q in all_quotes(text)}
        for label, side in (("scanner only", ours - theirs), ("evalkit only", theirs - ours)):
            for s, e in sorted(side):
                n += 1
                print(f"{label:13} {r['doc_id'][:16]} [{s}, {e}) …{text[max(0, s - 50):s]!s}⟦{text[s:e]}⟧"
                      f"{text[e:e + 40]}…\n")
    print(f"{n} disagreements")
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--diff", action="store_true", help="list the disagreements with evalkit's extractor")
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(REPO)}")
    args = ap.parse_args()
    if args.diff:
        diff()
    if args.write:
        rows = build()
        OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{OUT}: {len(rows)} articles, {sum(len(r['spans']) for r in rows)} quotations")


if __name__ == "__main__":
    main()
