"""Sentence splitting and key-point parsing."""

import pytest
from summeval_data import summeval_articles, summeval_rows

import evalkit.text as text_module
from evalkit.gold import SHIPPED_GOLD, load_gold
from evalkit.text import parse_key_points, split_sentences


def test_sentence_splitting_handles_abbreviations_numbers_quotes_and_lines():
    text = ('The U.S. economy grew by 2.26 billion dollars. Mr. Smith said "We are here. We stay." '
            "He left (finally). Dr. Jones agreed.\n- a bullet line\n- another")
    assert split_sentences(text) == [
        "The U.S. economy grew by 2.26 billion dollars.",
        'Mr. Smith said "We are here. We stay."',
        "He left (finally).",
        "Dr. Jones agreed.",
        "- a bullet line",
        "- another",
    ]


def test_key_points_block_bullets_and_wrapping():
    text = "Summary paragraph. More.\n\nKey Points:\n- Coalition: Britain and France.\n- Quotes: he said\n  something.\n"
    assert parse_key_points(text) == ["Coalition: Britain and France.", "Quotes: he said something."]


def test_key_points_markdown_header_and_numbers():
    assert parse_key_points("**Key Points:**\n1. A: x\n2) B: y") == ["A: x", "B: y"]
    assert parse_key_points("## Key points\n* A: x\n• B: y") == ["A: x", "B: y"]


def test_key_points_inline_block():
    text = "Para. Key Points: - Coalition: Britain and France. - Quotes: he said x."
    assert parse_key_points(text) == ["Coalition: Britain and France.", "Quotes: he said x."]


def test_key_points_fallbacks():
    assert parse_key_points("Intro line\n- A: one\n- B: two") == ["A: one", "B: two"]
    assert parse_key_points("line one\nline two") == ["line one", "line two"]
    assert parse_key_points("One sentence. Two sentences.") == ["One sentence.", "Two sentences."]
    assert parse_key_points("") == []


# ---------------------------------------------------------------- the splitting policy (issue 11, item 5)


@pytest.mark.parametrize("line", [
    # fails on main before issue 11: pysbd cuts after titles and clock times it does not know
    "Army Spc. Caleb Smith, 22, was killed in the attack.",
    "The blast happened at 2 a.m. Wednesday, police said.",
    "Officials spoke at 9 p.m. ET on Monday.",
    "Insp. Jane Doe and Pvt. John Roe gave evidence.",
    # fails on main: the closing mark of a quotation ended up on a line of its own
    "He said: 'I have not decided yet at all.'",
])
def test_one_sentence_lines_stay_whole(line):
    assert split_sentences(line) == [line]
    assert text_module.sentence_lines(line) == line


def test_real_sentence_ends_after_abbreviations_are_kept():
    assert split_sentences("It was 2 a.m. Police arrived soon.") == ["It was 2 a.m.", "Police arrived soon."]
    assert split_sentences("He met Gen. Smith. Then he left.") == ["He met Gen. Smith.", "Then he left."]


def _real_texts() -> list[str]:
    gold = load_gold(SHIPPED_GOLD)
    refs = sorted({r for row in summeval_rows() for r in row["references"]})
    return [*summeval_articles("source_raw"), *summeval_articles("source"), *refs[:300],
            *(i.article for i in gold.items), *(kp for i in gold.items for kp in i.key_points)]


def test_splitting_is_idempotent_on_real_text():
    """Every sentence, split again, is itself (fails on main: 105 of 3,018 SummEval sentences
    were cut again, e.g. a quotation of two sentences and its closing mark)."""
    checked = 0
    for text in _real_texts():
        for sentence in split_sentences(text):
            assert split_sentences(sentence) == [sentence], sentence
            checked += 1
    assert checked > 5000


def test_sentences_are_substrings_in_order():
    for text in summeval_articles("source_raw")[:20]:
        spans = text_module.sentence_spans(text)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        assert [text[s:e] for s, e in spans] == split_sentences(text)
        rest = text
        for s, e in spans:
            rest = rest.replace(text[s:e], "", 1)
        assert not rest.strip()  # nothing but whitespace falls between sentences


def test_lead_sentences_rejoined_split_the_same():
    """Lead-k joined by spaces or by lines splits back into the same k sentences."""
    for article in summeval_articles("source_raw"):
        sentences = split_sentences(article)
        for k in (1, 3, 5):
            assert split_sentences(" ".join(sentences[:k])) == sentences[:k]
            assert split_sentences("\n".join(sentences[:k])) == sentences[:k]


def test_long_paragraph_is_chunked_without_changing_sentences(monkeypatch):
    """A long paragraph goes to pysbd in windows; on ordinary text the sentences are those of
    one pysbd call over the whole paragraph (speed: benchmarks/bench_long_text.py)."""
    paragraph = " ".join(summeval_articles("source_raw")[:30])
    assert len(paragraph) > 15 * text_module.CHUNK_CHARS
    chunked = split_sentences(paragraph)
    monkeypatch.setattr(text_module, "CHUNK_CHARS", 10 ** 9)
    assert split_sentences(paragraph) == chunked
    assert len(chunked) > 500


def test_a_sentence_longer_than_a_window_is_cut_at_a_space():
    words = ["word"] * (2 * text_module.CHUNK_CHARS // 5)
    sentences = split_sentences(" ".join(words) + ".")
    assert len(sentences) >= 2 and all(len(s) <= text_module.CHUNK_CHARS for s in sentences)
    assert " ".join(sentences) == " ".join(words) + "."


def test_sentence_lines_policies():
    text = "One sentence here. Another one.\n\n  - a key point with Sgt. Pepper  \n"
    assert text_module.sentence_lines(text, "pysbd") == "One sentence here.\nAnother one.\n- a key point with Sgt. Pepper"
    assert text_module.sentence_lines(text, "newline") == "One sentence here. Another one.\n- a key point with Sgt. Pepper"
    with pytest.raises(ValueError):
        text_module.sentence_lines(text, "spacy")  # type: ignore[arg-type]


# --- speed without a changed sentence (issue 12) ---------------------------------------------

def _real_texts() -> list[str]:
    rows = summeval_rows()
    texts = [*summeval_articles("source_raw"), *summeval_articles("source"), *(r["summary"] for r in rows[:400]),
             *{ref for r in rows[:160] for ref in r["references"]}]
    for item in load_gold(SHIPPED_GOLD).items:
        texts += [item.article, *item.key_points]
    return texts


def test_segment_equals_pysbds_segmenter_on_real_text():
    """evalkit.sbd.segment (no regex compiled per sentence, abbreviation patterns compiled once)
    returns what pysbd.Segmenter(language="en", clean=False).segment returns."""
    import pysbd

    from evalkit.sbd import segment

    reference = pysbd.Segmenter(language="en", clean=False)
    for text in _real_texts():
        for chunk in [text, *text.split("\n")]:
            assert segment(chunk) == reference.segment(chunk), chunk[:80]


def _pysbd_path(text: str) -> list[tuple[int, int]]:
    saved = text_module._one_sentence
    text_module._one_sentence = lambda *a: False
    try:
        return text_module._compute_spans(text)
    finally:
        text_module._one_sentence = saved


def test_pieces_that_skip_pysbd_are_the_ones_it_would_not_cut():
    """The fast path (a piece with no mark pysbd cuts at goes around it) changes no sentence: on
    every real text, and on random strings of words, quotes, brackets, list markers and stops."""
    import random

    texts = _real_texts()
    for text in texts:
        assert text_module._compute_spans(text) == _pysbd_path(text), text[:80]
    words = ["The", "the", "said", "Mr.", "U.S.", "a.m.", "1)", "(a)", "(iv)", "'", '"', "“", "”", "(", ")", "«", "»",
             "-", "—", "'Yes'", '"No"', "O'Neil", "it's", "( centre )", "A", "I", "\t", "12", "3.5", "x)", ";"]
    ends = ["", ".", "!", "?", ".'", '."', "…", ".)", " .", "?!", "...", "'", '"']
    rng = random.Random(12)
    fast = 0
    for _ in range(6000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) + rng.choice(ends)
        s, e = text_module._strip(text, 0, len(text))
        fast += text_module._one_sentence(text, s, e)
        assert text_module._compute_spans(text) == _pysbd_path(text), text
    assert fast > 500  # the fast path was really taken
    pieces = sum(1 for t in texts for p in t.replace(" . ", "\n").split("\n") if p.strip())
    skipped = sum(1 for t in texts for p in t.replace(" . ", "\n").split("\n")
                  if p.strip() and text_module._one_sentence(p, *text_module._strip(p, 0, len(p))))
    assert skipped > pieces // 3


def test_each_text_is_split_once_per_run_whatever_the_number_of_articles(monkeypatch):
    """Two lead systems over 257 distinct articles split each article once (a 256-entry LRU,
    which the lead backend used before, split every article twice: 514 splits)."""
    from evalkit.backends.extractive import Lead
    from evalkit.records import GoldItem

    calls = []
    real = text_module._compute_spans
    monkeypatch.setattr(text_module, "_compute_spans", lambda t: calls.append(t) or real(t))
    articles = summeval_articles("source_raw")
    items = [GoldItem(id=f"a{i}", article=f"Report {i}. " + articles[i % len(articles)], key_points=["x"])
             for i in range(257)]
    lead3, lead1 = Lead(Lead.Options(k=3)), Lead(Lead.Options(k=1))
    with text_module.text_store() as store:
        outputs = [(lead3.summarize(it), lead1.summarize(it)) for it in items]
        for out3, out1 in outputs:  # the outputs are one sentence per line: no pysbd for them either
            text_module.split_sentences(out3), text_module.split_sentences(out1)
    assert len([c for c in calls if c in {it.article for it in items}]) == 257
    assert store.splits == len(set(calls)) and store.reuses >= 257 + 2 * 257 - len(set(o for p in outputs for o in p))
    assert text_module.active_store() is None
    calls.clear()
    lead3.summarize(items[0]), lead3.summarize(items[0])  # outside a run: no store, nothing kept
    assert len(calls) == 2
