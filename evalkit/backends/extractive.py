"""Extractive baselines every summarization paper reports: lead-k, TextRank, LexRank, oracle.

Each returns whole article sentences, in article order, one per line (so the key points
parsed from the output are exactly the selected sentences).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Literal, Optional

from pydantic import Field

from evalkit.backends.base import Backend, BackendOptions
from evalkit.records import GoldItem
from evalkit.text import active_store, split_sentences

_WORD = re.compile(r"\w+", re.UNICODE)


def article_sentences(article: str) -> tuple[str, ...]:
    """The article's sentences. During a run each article is split once for every system (the
    run's TextStore, keyed by content: no fixed-size cache to outgrow)."""
    return tuple(split_sentences(article))


class _ArticleSentences(Backend):
    """A backend that reads the article's sentences: before a run's first item, the articles
    not split yet are split at once, over both cores when there are enough of them."""

    def prepare(self, items: Sequence[GoldItem]) -> None:
        store = active_store()
        if store is not None:
            from evalkit.pool import prime_sentences

            prime_sentences([it.article for it in items], store)


def _words(sentence: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(sentence)]


def _join(sentences: list[str]) -> str:
    return "\n".join(sentences)


class Lead(_ArticleSentences):
    """The first k sentences of the article (lead-3 is the classic news baseline)."""

    name = "lead"
    reads = ("article",)

    class Options(BackendOptions):
        k: int = Field(3, ge=1, description="number of leading sentences")

    options: Options

    def summarize(self, item: GoldItem) -> str:
        return _join(list(article_sentences(item.article)[: self.options.k]))


class _GraphRank(_ArticleSentences):
    """Rank sentences by PageRank over a sentence-similarity graph (networkx); keep the top k."""

    reads = ("article",)

    class Options(BackendOptions):
        k: int = Field(3, ge=1, description="number of sentences to select")
        damping: float = Field(0.85, gt=0, lt=1, description="PageRank damping factor")

    options: Options

    def similarity(self, sentences: list[list[str]]) -> list[tuple[int, int, float]]:
        raise NotImplementedError

    def summarize(self, item: GoldItem) -> str:
        import networkx as nx

        sentences = list(article_sentences(item.article))
        if len(sentences) <= self.options.k:
            return _join(sentences)
        graph = nx.Graph()
        graph.add_nodes_from(range(len(sentences)))
        graph.add_weighted_edges_from(self.similarity([_words(s) for s in sentences]))
        rank = nx.pagerank(graph, alpha=self.options.damping, weight="weight", tol=1e-10, max_iter=1000)
        # ties broken by position: earlier sentences first (deterministic)
        top = sorted(range(len(sentences)), key=lambda i: (-round(rank[i], 12), i))[: self.options.k]
        return _join([sentences[i] for i in sorted(top)])


class TextRank(_GraphRank):
    """TextRank (Mihalcea & Tarau, 2004): similarity = shared words / (log|Si| + log|Sj|)."""

    name = "textrank"

    def similarity(self, sentences: list[list[str]]) -> list[tuple[int, int, float]]:
        sets = [set(s) for s in sentences]
        edges = []
        for i in range(len(sentences)):
            for j in range(i + 1, len(sentences)):
                denom = math.log(len(sentences[i]) + 1) + math.log(len(sentences[j]) + 1)
                overlap = len(sets[i] & sets[j])
                if overlap and denom > 0:
                    edges.append((i, j, overlap / denom))
        return edges


class LexRank(_GraphRank):
    """LexRank (Erkan & Radev, 2004): TF-IDF cosine similarity above a threshold, unweighted."""

    name = "lexrank"

    class Options(_GraphRank.Options):
        threshold: float = Field(0.1, ge=0, lt=1, description="cosine similarity needed for an edge")

    options: Options

    def similarity(self, sentences: list[list[str]]) -> list[tuple[int, int, float]]:
        n = len(sentences)
        df = Counter(w for s in sentences for w in set(s))
        idf = {w: math.log(n / c) for w, c in df.items()}
        vecs = [{w: tf * idf[w] for w, tf in Counter(s).items()} for s in sentences]
        norms = [math.sqrt(sum(v * v for v in vec.values())) for vec in vecs]
        edges = []
        for i in range(n):
            for j in range(i + 1, n):
                if not norms[i] or not norms[j]:
                    continue
                dot = sum(v * vecs[j].get(w, 0.0) for w, v in vecs[i].items())
                if dot / (norms[i] * norms[j]) > self.options.threshold:
                    edges.append((i, j, 1.0))
        return edges


class Oracle(_ArticleSentences):
    """Greedy extractive oracle (Nallapati et al., 2017): add the article sentence that most
    raises ROUGE against the reference key points, until no sentence helps or ``max_sentences``.

    Scores use rouge-score's tokenizer and stemmer (through rouge-score-rs, its bit-identical
    native port, when installed: same tokens, no nltk import), so the oracle optimises the
    same tokens the ROUGE metric counts. An upper bound for extractive systems, not a system.
    """

    name = "oracle"
    reads = ("article", "key_points")

    class Options(BackendOptions):
        max_sentences: Optional[int] = Field(None, ge=1, description="stop after this many (default: number of key points)")
        objective: Literal["rouge1+rouge2", "rouge1", "rouge2"] = Field(
            "rouge1+rouge2", description="F1 to maximise (sum of the listed)")

    options: Options

    def summarize(self, item: GoldItem) -> str:
        tok = rouge_tokenizer()
        sentences = list(article_sentences(item.article))
        sent_tokens = [tok.tokenize(s) for s in sentences]
        ref_tokens = tok.tokenize("\n".join(item.key_points))
        orders = [int(c) for c in re.findall(r"\d", self.options.objective.replace("rouge", ""))]
        refs = {n: _ngrams(ref_tokens, n) for n in orders}
        limit = self.options.max_sentences or len(item.key_points)
        chosen: list[int] = []
        best = 0.0
        while len(chosen) < limit:
            candidate, candidate_score = None, best
            for i in range(len(sentences)):
                if i in chosen:
                    continue
                tokens = [t for j in sorted(chosen + [i]) for t in sent_tokens[j]]
                score = sum(_f1(_ngrams(tokens, n), refs[n]) for n in orders)
                if score > candidate_score + 1e-12:
                    candidate, candidate_score = i, score
            if candidate is None:
                break
            chosen.append(candidate)
            best = candidate_score
        return _join([sentences[i] for i in sorted(chosen)])


def rouge_tokenizer():
    """rouge-score's default tokenizer with stemming: rouge-score-rs's when installed, else rouge-score's."""
    try:
        from rouge_score_rs.tokenizers import DefaultTokenizer
    except ImportError:
        from rouge_score.tokenizers import DefaultTokenizer
    return DefaultTokenizer(use_stemmer=True)


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _f1(pred: Counter, ref: Counter) -> float:
    overlap = sum((pred & ref).values())
    if not overlap:
        return 0.0
    p, r = overlap / sum(pred.values()), overlap / sum(ref.values())
    return 2 * p * r / (p + r)
