"""Making user-supplied text (system, metric and gold names, error messages, help texts) safe
for each output it reaches: the terminal (Rich markup), Markdown and XML.

* :func:`visible_controls` writes control characters as visible escapes (``\\x1b``): C0 and C1
  controls, DEL, and the Unicode bidirectional overrides that can reorder what a reader sees.
  Tab, newline and carriage return are left to the caller (tables turn them into spaces).
* :func:`rich_safe` additionally escapes Rich markup (``[bold]``, ``[/]``), so a name such as
  ``x[/]y`` prints as itself instead of raising ``MarkupError`` or restyling the output.
* :func:`xml_safe` replaces every character XML 1.0 does not allow (controls other than tab,
  newline and carriage return, lone surrogates, U+FFFE/U+FFFF) by its visible escape, so the
  JUnit file is always well-formed.
"""

from __future__ import annotations

import re

_C0_C1 = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_CONTROLS = re.compile(f"[{_C0_C1}\u202a-\u202e\u2066-\u2069]")
_CONTROLS_NO_BIDI = re.compile(f"[{_C0_C1}]")
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible_controls(text: object, *, bidi: bool = True) -> str:
    """``text`` with every control character (but tab/newline/CR) written as ``\\xNN``/``\\uNNNN``;
    ``bidi=False`` leaves the bidirectional formatting characters (for running text such as articles)."""
    return (_CONTROLS if bidi else _CONTROLS_NO_BIDI).sub(_escape, str(text))


def rich_safe(text: object) -> str:
    """``text`` to print through Rich as itself: controls made visible, markup escaped."""
    from rich.markup import escape

    return escape(visible_controls(text))


def xml_safe(text: object) -> str:
    """``text`` with every character XML 1.0 forbids written as a visible escape."""
    return _XML_INVALID.sub(_escape, str(text))
