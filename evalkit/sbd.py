"""pysbd's English segmenter, same output, without its two costs that are not splitting:

- ``Segmenter.segment`` maps each sentence back to the text with a regular expression built
  from the sentence (``re.finditer(re.escape(sent) + r"\\s*", text)``): one compile per
  sentence, which also evicts every other pattern from ``re``'s 512-entry cache. Here the
  same search (the first occurrence of the sentence, with the whitespace after it, that ends
  after the previous one) is done with ``str.find``.
- its abbreviation pass builds a pattern per abbreviation found in the text and hands it to
  ``re.sub``/``re.findall``; with the cache thrashed they are compiled again and again (most
  of pysbd's time on news text). Those calls go through a cache of compiled patterns without
  a size limit (the patterns come from pysbd's fixed abbreviation list).

tests/test_text.py checks the result against ``pysbd.Segmenter(...).segment`` on real text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any


class _CompiledPatterns:
    """Stands in for the ``re`` module inside pysbd.abbreviation_replacer: the same functions,
    each pattern compiled once."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, int], re.Pattern[str]] = {}

    def _pattern(self, pattern: str, flags: int = 0) -> re.Pattern[str]:
        key = (pattern, int(flags))
        got = self._compiled.get(key)
        if got is None:
            got = self._compiled[key] = re.compile(pattern, flags)
        return got

    def sub(self, pattern: str, repl: Any, string: str, count: int = 0, flags: int = 0) -> str:
        return self._pattern(pattern, flags).sub(repl, string, count)

    def findall(self, pattern: str, string: str, flags: int = 0) -> list[Any]:
        return self._pattern(pattern, flags).findall(string)

    def search(self, pattern: str, string: str, flags: int = 0) -> re.Match[str] | None:
        return self._pattern(pattern, flags).search(string)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


@lru_cache(maxsize=1)
def _language() -> Any:
    import pysbd.abbreviation_replacer
    from pysbd.languages import Language

    if not isinstance(pysbd.abbreviation_replacer.re, _CompiledPatterns):
        pysbd.abbreviation_replacer.re = _CompiledPatterns()
    return Language.get_language_code("en")


def _span_of(text: str, sent: str, prior_end: int) -> tuple[int, int] | None:
    """pysbd's ``sentences_with_char_spans`` for one sentence: the first match of
    ``re.escape(sent) + r"\\s*"`` (matches do not overlap) that ends after ``prior_end``."""
    if not sent:
        return None  # only whitespace can follow: nothing a caller keeps
    pos = 0
    while True:
        i = text.find(sent, pos)
        if i < 0:
            return None
        j = i + len(sent)
        while j < len(text) and text[j].isspace():
            j += 1
        if j > prior_end:
            return i, j
        pos = j


def segment(text: str) -> list[str]:
    """``pysbd.Segmenter(language="en", clean=False).segment(text)``."""
    if not text:
        return []
    from pysbd.processor import Processor

    lang = _language()
    processor_cls: Any = getattr(lang, "Processor", None) or Processor
    sentences = processor_cls(text, lang, char_span=False).process()
    out, prior_end = [], 0
    for sent in sentences:
        span = _span_of(text, sent, prior_end)
        if span is not None:
            out.append(text[span[0]:span[1]])
            prior_end = span[1]
    return out
