"""Prompt templates shared by the model backends (``openai``, ``transformers``).

A template is plain text with two variables, ``{article}`` and ``{title}``; nothing else
in it is interpreted, so a template may contain JSON examples or other braces freely. An
unknown ``{name}`` (a typo such as ``{artcle}``) is an error rather than literal text sent
to a model. The ``prompt`` option of a backend is either such a template (it contains
``{article}``) or the path of a file holding one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from evalkit.errors import UsageError
from evalkit.records import GoldItem

VARIABLES = ("article", "title")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")

DEFAULT_PROMPT = """\
Summarize the news article below for a busy reader.

Write a short summary of two or three sentences. Then write the line "Key Points:" \
followed by three to five bullets, each of the form "- Label: one sentence", where the \
label is two to four words naming the point. Copy every number exactly as the article \
gives it, and put in quotation marks only words that appear verbatim in the article.

Title: {title}

Article:
{article}
"""


def resolve_template(prompt: str, *, option: str = "prompt") -> str:
    """The template text of a ``prompt`` option: the text itself, or the file it names."""
    if "{article}" in prompt:
        return check_template(prompt, option=option)
    path = Path(prompt).expanduser()
    if "\n" not in prompt and len(prompt) < 4096 and path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"{option}: cannot read prompt file {path}: {e}") from None
        if "{article}" not in text:
            raise UsageError(f"{option}: prompt file {path} has no {{article}} variable")
        return check_template(text, option=f"{option} file {path}")
    raise UsageError(
        f"{option}: {prompt[:60]!r} is neither a template with an {{article}} variable nor an existing file"
    )


def check_template(template: str, *, option: str = "prompt") -> str:
    unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(template)} - set(VARIABLES))
    if unknown:
        names = ", ".join("{" + u + "}" for u in unknown)
        raise UsageError(f"{option}: unknown template variable(s) {names}; known: {{article}}, {{title}}")
    return template


def render(template: str, item: GoldItem) -> str:
    """Substitute ``{article}`` and ``{title}`` (an item without a title gets an empty one)."""
    values = {"article": item.article, "title": item.title or ""}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def render_all(template: str, items: Iterable[GoldItem]) -> list[str]:
    return [render(template, it) for it in items]
