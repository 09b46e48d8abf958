"""Extractive baselines on hand-made cases."""

from __future__ import annotations

import pytest

from evalkit.backends import build_backend, parse_system
from evalkit.errors import UsageError
from evalkit.records import GoldItem

ARTICLE = ("Mr. Adeyemi opened the new bridge on Monday. It cost £2.26 billion. "
           "Residents said traffic fell by 30%. The U.S. firm that built it was paid late. "
           "Critics called the project 'a vanity scheme'.")


def item(article=ARTICLE, kps=("Bridge: Mr. Adeyemi opened the new bridge.",)):
    return GoldItem(id="x", article=article, key_points=list(kps))


def run(spec, it=None):
    return build_backend(parse_system(spec)).summarize(it or item())


def test_lead_k():
    assert run("lead:k=1") == "Mr. Adeyemi opened the new bridge on Monday."
    assert run("lead") == ("Mr. Adeyemi opened the new bridge on Monday.\nIt cost £2.26 billion.\n"
                           "Residents said traffic fell by 30%.")
    assert run("lead:k=50").count("\n") == 4  # all five sentences, no error


def test_lead_rejects_bad_options():
    with pytest.raises(UsageError, match="unknown option"):
        build_backend(parse_system("lead:n=2"))
    with pytest.raises(UsageError, match="k"):
        build_backend(parse_system("lead:k=zero"))


def test_oracle_picks_the_sentences_that_match_the_key_points():
    it = item(kps=["Cost: the bridge cost £2.26 billion.", "Traffic: residents said traffic fell by 30%."])
    assert run("oracle", it) == "It cost £2.26 billion.\nResidents said traffic fell by 30%."
    # never more sentences than asked
    assert run("oracle:max_sentences=1", it).count("\n") == 0


def test_oracle_stops_when_nothing_helps():
    it = item(kps=["Zebra: quantum zebras xylophone."])
    assert run("oracle", it) == ""


def test_textrank_and_lexrank_return_k_article_sentences_in_order():
    sentences = ["Mr. Adeyemi opened the new bridge on Monday.", "It cost £2.26 billion.",
                 "Residents said traffic fell by 30%.", "The U.S. firm that built it was paid late.",
                 "Critics called the project 'a vanity scheme'."]
    for spec in ("textrank:k=2", "lexrank:k=2"):
        out = run(spec).split("\n")
        assert len(out) == 2
        assert all(s in sentences for s in out)
        assert [sentences.index(s) for s in out] == sorted(sentences.index(s) for s in out)
        assert run(spec) == run(spec)  # deterministic


def test_textrank_prefers_central_sentences():
    article = ("The river flooded the town. The river rose after heavy rain in the town. "
               "A cat slept. The flooded town asked for help with the river.")
    out = run("textrank:k=1", item(article))
    assert "river" in out and "cat" not in out


def test_system_spec_parsing():
    s = parse_system("short=lead:k=1")
    assert (s.name, s.backend, s.options) == ("short", "lead", {"k": 1})  # typed like evalkit.toml's k = 1
    s = parse_system("openai:model=llama3.2,base_url=http://127.0.0.1:11434/v1")
    assert s.backend == "openai" and s.options == {"model": "llama3.2", "base_url": "http://127.0.0.1:11434/v1"}
    s = parse_system("command:cmd=python summarize.py --style a,b")
    assert s.options == {"cmd": "python summarize.py --style a,b"}
    s = parse_system("evalkit.backends.extractive:Lead:k=2")
    assert s.backend == "evalkit.backends.extractive:Lead" and s.options == {"k": 2}
    assert run("evalkit.backends.extractive:Lead:k=1") == run("lead:k=1")
    with pytest.raises(UsageError, match="unknown backend 'nope'.*lead"):
        build_backend(parse_system("nope"))


def test_oracle_tokens_are_rouge_scores_without_importing_it():
    """The oracle counts rouge-score's tokens (rouge-score-rs's port: no nltk import)."""
    import subprocess
    import sys

    from rouge_score.tokenizers import DefaultTokenizer
    from summeval_data import summeval_articles

    from evalkit.backends.extractive import rouge_tokenizer
    from evalkit.text import split_sentences

    ours, theirs = rouge_tokenizer(), DefaultTokenizer(use_stemmer=True)
    for article in summeval_articles("source_raw")[:40]:
        for sentence in split_sentences(article):
            assert ours.tokenize(sentence) == theirs.tokenize(sentence)
    code = ("import sys; from evalkit.backends.extractive import Oracle; from evalkit.records import GoldItem\n"
            "o = Oracle().summarize(GoldItem(id='a', article='Cats run. Dogs sleep all day. Birds sing.', key_points=['dogs sleep']))\n"
            "print(o, sorted(m for m in sys.modules if m.split('.')[0] in ('nltk', 'rouge_score')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "Dogs sleep all day. []"
