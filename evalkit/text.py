"""Text utilities shared by backends and metrics: sentence splitting and key-point parsing.

Sentence splitting uses pysbd (pure rules, no downloaded data), which handles "U.S.",
"Mr.", "2.26 billion", quotations and parentheses. Line breaks are hard boundaries:
a bullet list is never merged into one sentence.
"""

from __future__ import annotations

import re
from functools import lru_cache

_BULLET = re.compile(r"^\s*(?:[-*•‣◦▪–—]|\d{1,3}[.)]|\(\d{1,3}\)|[a-zA-Z][.)](?=\s))\s+")
_TOKENIZED_STOP = re.compile(r"(?<=\s[.!?])\s+")
_KP_HEADER = re.compile(
    r"^\s*(?:#{1,6}\s*)?(?:\*\*|__)?\s*key[\s_-]*(?:points|takeaways|facts)\s*(?:\*\*|__)?\s*:?\s*(?:\*\*|__)?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # light, but only needed when text is split

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, in order, stripped; line breaks always end a sentence."""
    out: list[str] = []
    for line in text.split("\n"):
        # tokenized text (PTB style: "epidemic . ' Their") keeps a space before the full stop,
        # which pysbd alone does not treat as a boundary next to stray quote marks
        for piece in _TOKENIZED_STOP.split(line.strip()):
            if piece.strip():
                out.extend(s.strip() for s in _segmenter().segment(piece.strip()) if s.strip())
    return out


def strip_bullet(line: str) -> str:
    return _BULLET.sub("", line, count=1).strip()


def is_bullet(line: str) -> bool:
    return bool(_BULLET.match(line))


def split_key_points_block(text: str) -> tuple[str, str | None]:
    """(body, key-points block) — the block is what follows a "Key Points:" header, if any."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _KP_HEADER.match(line)
        if m and (m.group("rest") or i + 1 < len(lines)):
            block = "\n".join(([m.group("rest")] if m.group("rest").strip() else []) + lines[i + 1:])
            return "\n".join(lines[:i]).strip(), block
        if m:
            return "\n".join(lines[:i]).strip(), ""
    # an inline "Key Points:" inside a paragraph (e.g. "... Key Points: - A: x - B: y")
    m = re.search(r"\bkey points\s*:", text, re.IGNORECASE)
    if m:
        block = text[m.end():]
        return text[: m.start()].strip(), re.sub(r"\s+[-•*]\s+", "\n- ", " " + block).strip()
    return text.strip(), None


def _bullet_items(lines: list[str]) -> list[str]:
    """Bulleted / numbered items; an unmarked line continues the previous item."""
    items: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        if is_bullet(line) or not items:
            items.append(strip_bullet(line))
        else:
            items[-1] = f"{items[-1]} {line.strip()}"
    return [i for i in items if i]


def parse_key_points(text: str) -> list[str]:
    """Key points a system wrote, in order of preference:

    1. the items of a "Key Points:" block (bullets, numbers, or one per line);
    2. otherwise bulleted or numbered lines anywhere;
    3. otherwise one per non-empty line, if there are several lines;
    4. otherwise the sentences of the text.
    """
    if not text or not text.strip():
        return []
    _, block = split_key_points_block(text)
    if block is not None:
        lines = [line for line in block.splitlines() if line.strip()]
        if any(is_bullet(line) for line in lines):
            return _bullet_items(lines)
        return [line.strip() for line in lines]
    lines = [line for line in text.splitlines() if line.strip()]
    bullets = [line for line in lines if is_bullet(line)]
    if bullets:
        start = lines.index(bullets[0])
        return _bullet_items(lines[start:])
    if len(lines) > 1:
        return [line.strip() for line in lines]
    return split_sentences(text)


def word_count(text: str) -> int:
    return len(text.split())
