"""The shipped gold set meets its datasheet: counts checked with evalkit's own extractors."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from evalkit.gold import SHIPPED_GOLD, load_gold
from evalkit.numbers import extract_figures
from evalkit.quotes import extract_quotes

GOLD = load_gold(SHIPPED_GOLD)
KEY_POINT = re.compile(r"^[^:]{2,60}: \S.*[.!?”\"’]$")


def test_size_and_desks():
    assert len(GOLD) >= 40
    desks = Counter(i.meta["desk"] for i in GOLD.items)
    assert len(desks) >= 8, desks
    assert set(desks) <= {"politics", "economy", "science", "health", "technology", "sport", "courts",
                          "environment", "culture", "local"}


@pytest.mark.parametrize("item", GOLD.items, ids=lambda i: i.id)
def test_item_meets_the_datasheet(item):
    words = len(item.article.split())
    assert 350 <= words <= 1000, words
    quotes = extract_quotes(item.article)
    assert len(quotes) >= 2, [q.text for q in quotes]
    assert len(extract_figures(item.article)) >= 3
    assert 4 <= len(item.key_points) <= 7
    for kp in item.key_points:
        assert KEY_POINT.match(kp), kp
    assert item.summary and len(item.summary.split()) >= 40
    assert item.title
    for field in ("desk", "date", "language", "source", "license"):
        assert item.meta.get(field), field


def test_quote_styles_are_mixed():
    articles = [i.article for i in GOLD.items]
    assert sum("“" in a for a in articles) >= 10
    assert sum(re.search(r'(^|\s)"\w', a) is not None for a in articles) >= 10
    assert sum(re.search(r"(^|\s)‘\w", a) is not None for a in articles) >= 10
    # quotations that run across a sentence break
    multi = [q for a in articles for q in extract_quotes(a) if re.search(r"[.!?] +[A-Z]", q.text)]
    assert len(multi) >= 2


def test_quotes_in_references_are_verbatim_in_the_article():
    checked = 0
    for item in GOLD.items:
        for text in [*item.key_points, item.summary or ""]:
            for q in extract_quotes(text):
                if len(q.text.split()) >= 3:
                    assert q.text.rstrip(".,") in item.article, (item.id, q.text)
                    checked += 1
    assert checked >= 40


def test_no_real_people_listed_in_datasheet_claim():
    sheet = (Path(SHIPPED_GOLD).parent / "README.md").read_text(encoding="utf-8")
    assert "invented" in sheet and GOLD.hash in sheet


def test_the_top_level_gold_folder_of_a_checkout_is_the_package_data():
    """``gold/`` (the layout's place for the gold sets) is a link to the one copy inside the package,
    so a checkout and an installed wheel read the same bytes and no second copy can drift."""
    top = Path(__file__).resolve().parents[1] / "gold"
    assert top.is_symlink() and top.resolve() == SHIPPED_GOLD.parent.resolve()
    assert (top / SHIPPED_GOLD.name).read_bytes() == SHIPPED_GOLD.read_bytes()
