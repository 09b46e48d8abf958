"""Sentence splitting and key-point parsing."""

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
