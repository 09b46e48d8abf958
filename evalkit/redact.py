"""Secrets never leave the process: one redaction, applied wherever text leaves a backend or
is written (journal rows, manifest options and argv, error messages, terminal output).

What counts as a secret:

- the value of an option whose name is a secret word (``api_key``, ``token``, ``password``,
  ``secret``, ``authorization``; whole words of the name, so ``max_tokens`` is not one);
- the value of the environment variable an ``*_env`` option names (``api_key_env``);
- the userinfo of a URL (``http://user:KEY@host``), and its HTTP Basic encoding.

Every such value this process is given (``register_options``, called whenever a backend is
built) is remembered for the life of the process, and ``redact_text`` replaces each of them
with ``***`` wherever it occurs, plus any URL userinfo by pattern. Values shorter than
``MIN_SECRET_CHARS`` are masked where they are options (manifest, argv) but not searched
for in free text, where they would blank out ordinary words.

Redact before cutting: a message is redacted whole and only then truncated, so no secret can
straddle the cut and survive minus its last characters.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

#: option names whose values are never written anywhere (manifest, cache key, reports)
SECRET_OPTION_WORDS = ("api_key", "apikey", "token", "password", "secret", "authorization")
REDACTED = "***"
MIN_SECRET_CHARS = 6

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/\s@?#]+)@")
_OPTION_KEY = re.compile(r"([A-Za-z_][\w\-]*)\s*=")
_NEXT_OPTION = re.compile(r",(?=\s*[A-Za-z_][\w\-]*\s*=)")

_known: set[str] = set()
_lock = threading.Lock()


def is_secret_option(key: str) -> bool:
    """True for ``api_key``, ``hf_token``, ``apiKey``, ``client_secret``; False for ``max_tokens``."""
    k = key.lower()
    # api_key_env names an environment variable: the name is not secret, its value is.
    if k.endswith("_env"):
        return False
    # whole words of the name, not substrings: "hf_token", "api_key", "apiKey", "password" are
    # secrets; "max_tokens", "max_new_tokens", "tokenizer" are ordinary options that must stay
    # in the manifest and in the cache key.
    words = "_".join(w for w in re.split(r"[^a-z0-9]+", k) if w)
    return any(re.search(rf"(^|_){w}($|_)", words) for w in SECRET_OPTION_WORDS)


# --- what the process knows ------------------------------------------------------------------

def register_secret(value: Optional[str]) -> None:
    """Remember ``value`` so that ``redact_text`` blanks it out everywhere from now on."""
    if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_CHARS:
        with _lock:
            _known.add(value)
            _known.add(value.strip())


def register_options(options: Mapping[str, Any]) -> None:
    """Remember every secret a backend's options carry (by name, by ``*_env``, in URLs)."""
    for key, value in options.items():
        if isinstance(value, Mapping):
            register_options(value)
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if not isinstance(v, str):
                continue
            if is_secret_option(str(key)):
                register_secret(v)
            if str(key).lower().endswith("_env"):
                register_secret(os.environ.get(v))
            register_url_secrets(v)


def register_url_secrets(text: str) -> None:
    """The userinfo of every URL in ``text``: its password, the whole ``user:password`` and
    the ``Authorization: Basic`` encoding of it (what an HTTP client sends)."""
    for m in _URL_USERINFO.finditer(text):
        userinfo = m.group(2)
        user, _, password = userinfo.partition(":")
        register_secret(userinfo)
        register_secret(password or user)
        register_secret(base64.b64encode(userinfo.encode()).decode())


def known_secrets() -> list[str]:
    with _lock:
        return sorted(_known, key=len, reverse=True)  # longest first: a secret inside another


# --- redaction -------------------------------------------------------------------------------

def redact_text(text: str, extra: Iterable[Optional[str]] = ()) -> str:
    """``text`` with every known secret (and ``extra``) replaced by ``***``, URL userinfo too."""
    if not text:
        return text
    secrets = [s for s in extra if isinstance(s, str) and s]
    for s in sorted(secrets, key=len, reverse=True) + known_secrets():
        if s in text:
            text = text.replace(s, REDACTED)
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


def redact_value(key: str, value: Any) -> Any:
    """An option value as it may be written: secret names masked, strings and nested values redacted."""
    if is_secret_option(key) and value is not None:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return redact_options(value)
    if isinstance(value, (list, tuple)):
        return [redact_value(key, v) for v in value]
    return value


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: redact_value(str(k), v) for k, v in options.items()}


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line as it may be written: known secrets, URL userinfo and the value of
    every ``secret_option=value`` inside a system spec (``-s "x=mod:Cls:api_key=..."``)."""
    return [_redact_option_pairs(redact_text(arg)) for arg in argv]


def _redact_option_pairs(arg: str) -> str:
    out, pos = [], 0
    for m in _OPTION_KEY.finditer(arg):
        if m.start() < pos or not is_secret_option(m.group(1)):
            continue
        nxt = _NEXT_OPTION.search(arg, m.end())
        end = nxt.start() if nxt else len(arg)
        out.append(arg[pos:m.end()] + REDACTED)
        pos = end
    out.append(arg[pos:])
    return "".join(out)


def is_redacted(value: Any) -> bool:
    """Whether a recorded option value lost a secret to redaction (it must be supplied again)."""
    if isinstance(value, str):
        return value == REDACTED or f"://{REDACTED}@" in value
    if isinstance(value, Mapping):
        return any(is_redacted(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_redacted(v) for v in value)
    return False
