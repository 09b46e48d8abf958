"""Perturbed quotations of real articles, each with the verdict it must get: the quotations of
the 100 SummEval articles (tests/data/summeval_quotes.jsonl) quoted by a summary verbatim,
with typography changed only, cut with an ellipsis, or altered (a word changed, dropped or
inserted, a number changed, a negation added or removed), and quotations fabricated from
another article. Used by tests/test_quote_verdicts.py and benchmarks/quote_eval.py.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from summeval_data import summeval_rows

ANNOTATION = Path(__file__).resolve().parent / "data" / "summeval_quotes.jsonl"
KINDS = ("verbatim", "typography", "ellipsis", "word_changed", "word_dropped", "word_inserted", "number",
         "negation", "fabricated")
EXPECTED = {"verbatim": "verbatim", "typography": "verbatim", "ellipsis": "verbatim", "fabricated": "not_found",
            "word_changed": "altered", "word_dropped": "altered", "word_inserted": "altered", "number": "altered",
            "negation": "altered"}
#: words absent from every SummEval article, used to change and insert words
NEW_WORDS = ["zeppelin", "marmalade", "quixotic", "harpsichord", "tangerine", "walrus", "obelisk", "kumquat",
             "gondola", "periwinkle", "xylophone", "saffron"]
_AUX = re.compile(r"\b(is|was|are|were|will|can|could|would|should|do|does|did|has|have|had)\b")
_NUMBER = re.compile(r"\b\d+\b")
_WRAPS = [("“", "”"), ('"', '"'), ("‘", "’"), ("'", "'")]


@dataclass(frozen=True)
class Case:
    kind: str
    expected: str
    doc_id: str
    article: str
    summary: str
    quote: str  # the quotation as written in the summary
    changed: tuple[str, str] | None = None  # (article words, quotation words) the alteration made


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _inner(text: str, s: int, e: int) -> str:
    inner = text[s + 1:e]
    return inner[:-1] if inner and inner[-1] in "'’\"”" else inner


def _wrap(rng: random.Random, content: str) -> tuple[str, str]:
    """Marks for the quotation: double ones when it holds single marks other than apostrophes."""
    nested_single = re.search(r"(?<![^\W\d_])['‘’]|['‘’](?![^\W\d_])", content)
    return rng.choice(_WRAPS[:2] if nested_single else _WRAPS)


def cases(seed: int = 11) -> list[Case]:
    """The perturbations, deterministic for a seed."""
    rng = random.Random(seed)
    docs: dict[str, str] = {}
    for r in summeval_rows():
        docs.setdefault(r["doc_id"], r["source_raw"])
    with ANNOTATION.open(encoding="utf-8") as f:
        spans = {r["doc_id"]: r["spans"] for r in map(json.loads, f)}
    ids = sorted(docs)
    out: list[Case] = []
    for doc_id in ids:
        article = docs[doc_id]
        plain_article = _plain(article)
        others = [d for d in ids if d != doc_id]
        plain_sentences = [x for x in re.split(r"(?<=[a-z][.!?])\s+", article)
                           if 4 <= len(x.split()) <= 40 and x[-1] in ".!?" and not re.search(r"['‘’\"“”]", x)]
        for s, e in spans[doc_id]:
            words = _inner(article, s, e).split()
            if len(words) < 5 or any(c in w for w in words for c in "“”\"‘"):
                continue
            for kind in KINDS:
                made = _perturb(kind, words, rng, docs[rng.choice(others)])
                if made is None:
                    continue
                content, changed = made
                if EXPECTED[kind] != "verbatim" and _plain(content) in plain_article:
                    continue  # the change happens to be in the article after all
                o, c = _wrap(rng, content)
                layout = rng.randrange(4 if plain_sentences else 3)
                if layout == 2:  # the quotation first, its attribution after
                    content = content.rstrip(".!?,;: ") + ","
                if layout == 3:  # two paragraphs of one quotation flattened into a line, the first never closed
                    summary = f"He said: {o}{rng.choice(plain_sentences)} {o}{content}{c}"
                else:
                    summary = [f"The report quoted {o}{content}{c} in full.", f"Asked about it, he said: {o}{content}{c}",
                               f"{o}{content}{c} the report said."][layout]
                out.append(Case(kind, EXPECTED[kind], doc_id, article, summary, content, changed))
    return out


@dataclass
class Result:
    confusion: dict[str, dict[str, int]]  # expected verdict -> verdict -> count
    by_kind: dict[str, dict[str, int]]  # perturbation kind -> verdict -> count
    explained: dict[str, list[int]]  # altered kind -> [named the change, altered verdicts]
    failures: list[tuple[Case, str]]

    def precision_recall(self, verdict: str) -> tuple[float, float]:
        tp = self.confusion.get(verdict, {}).get(verdict, 0)
        predicted = sum(row.get(verdict, 0) for row in self.confusion.values())
        actual = sum(self.confusion.get(verdict, {}).values())
        return (tp / predicted if predicted else 1.0), (tp / actual if actual else 1.0)


def evaluate(all_cases: list[Case]) -> Result:
    """Score every case's summary with the quote-fidelity metric, one article index per article."""
    from evalkit.metrics import build_metric
    from evalkit.quote_match import ArticleIndex

    metric = build_metric("quotes")
    indexes: dict[str, ArticleIndex] = {}
    confusion: dict[str, dict[str, int]] = {}
    by_kind: dict[str, dict[str, int]] = {}
    explained: dict[str, list[int]] = {}
    failures = []
    for case in all_cases:
        index = indexes.get(case.doc_id) or indexes.setdefault(case.doc_id, ArticleIndex(case.article))
        detail = metric.score_one(case.summary, index).detail or {"quotes": []}
        rows = [r for r in detail["quotes"] if r["text"] == case.quote]
        verdict = rows[0]["verdict"] if len(rows) == 1 else "extraction error"
        confusion.setdefault(case.expected, {}).setdefault(verdict, 0)
        confusion[case.expected][verdict] += 1
        by_kind.setdefault(case.kind, {}).setdefault(verdict, 0)
        by_kind[case.kind][verdict] += 1
        if verdict != case.expected:
            failures.append((case, verdict))
        if case.changed is not None and verdict == "altered":
            old, new = (set(_plain(x).split()) for x in case.changed)
            named = any(old - new <= set(_plain(d["article"]).split()) and new - old <= set(_plain(d["quote"]).split())
                        for d in rows[0]["differences"])
            tally = explained.setdefault(case.kind, [0, 0])
            tally[0] += named
            tally[1] += 1
    return Result(confusion, by_kind, explained, failures)


def _perturb(kind: str, words: list[str], rng: random.Random, other: str) -> tuple[str, tuple[str, str] | None] | None:
    w = list(words)
    # words that may be changed or dropped: not inside or next to an editorial [insertion] (a
    # wildcard for up to four words), not next to an ellipsis (a cut there is no change)
    depth, free = 0, []
    for k, x in enumerate(w):
        depth += x.count("[")
        near_cut = any("..." in y or "…" in y or "[" in y or "]" in y for y in w[max(0, k - 1):k + 2])
        free.append(depth == 0 and not near_cut)
        depth -= x.count("]")
    content_idx = [k for k, x in enumerate(w) if free[k] and re.fullmatch(r"[A-Za-z]{4,}[,.;:!?]?", x)]
    if kind == "verbatim":
        a = rng.randrange(0, max(1, len(w) - 5))
        return " ".join(w[a:]), None
    if kind == "typography":
        text = " ".join(w).replace("'", "’").replace(" - ", " — ").replace(" – ", " - ")
        text = re.sub(r" ", lambda m: "  " if rng.random() < 0.1 else " ", text)
        return (text if text != " ".join(w) else "\u00a0".join(w)), None
    if kind == "ellipsis":
        if len(w) < 10:
            return None
        cut = rng.randrange(3, len(w) - 5)
        gap = rng.randint(1, 3)
        return " ".join(w[:cut]) + rng.choice([" … ", " ... ", "... "]) + " ".join(w[cut + gap:]), None
    if kind == "fabricated":
        sentences = [x for x in re.split(r"(?<=[.!?])\s+", other) if 6 <= len(x.split()) <= 30 and not re.search(r"['‘’\"“”]", x)]
        return (rng.choice(sentences), None) if sentences else None
    if len(re.sub(r"\[[^\]]*\]", " ", " ".join(w)).split()) < 8:
        return None  # a changed quotation of fewer words may fall under the altered threshold
    if kind == "word_changed" and content_idx:
        k = rng.choice(content_idx)
        new = rng.choice(NEW_WORDS) + re.sub(r"[A-Za-z]", "", w[k])
        old, w[k] = w[k], new
        return " ".join(w), (old.strip(",.;:!?"), new.strip(",.;:!?"))
    if kind == "word_dropped" and content_idx:
        k = rng.choice([i for i in content_idx if 0 < i < len(w) - 1] or content_idx)
        old = w.pop(k)
        return " ".join(w), (old.strip(",.;:!?"), "")
    if kind == "word_inserted":
        slots = [k for k in range(1, len(w)) if free[k] and free[k - 1]]
        if not slots:
            return None
        k = rng.choice(slots)
        new = rng.choice(NEW_WORDS)
        w.insert(k, new)
        return " ".join(w), ("", new)
    if kind == "number":
        hits = [k for k, x in enumerate(w) if free[k] and _NUMBER.search(x)]
        if not hits:
            return None
        k = rng.choice(hits)
        old = w[k]
        w[k] = _NUMBER.sub(lambda m: str(int(m.group()) * 2 + 1), old, count=1)
        return " ".join(w), (old.strip(",.;:!?"), w[k].strip(",.;:!?"))
    if kind == "negation":
        for k, x in enumerate(w):
            if x.lower() == "not" and 0 < k:
                w.pop(k)
                return " ".join(w), ("not", "")
        for k, x in enumerate(w):
            if _AUX.fullmatch(x) and 0 < k < len(w) - 1 and w[k + 1].lower() != "not":
                w.insert(k + 1, "not")
                return " ".join(w), ("", "not")
    return None
