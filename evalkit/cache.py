"""The prediction cache: SQLite (standard library), content-addressed.

The key of a summary is the sha256 of what determines it: the backend's identity (name,
class, every option except secrets and runtime-only ones such as ``concurrency``, the
prompt text, fingerprints of local model files or scripts) and the article's text and
title. A re-run with nothing changed calls no backend; changing an option, the prompt or an
article misses exactly the rows it affects. Failed rows are never cached.

Default location ``.evalkit/cache.sqlite`` under the current directory, or
``$EVALKIT_CACHE_DIR/cache.sqlite``. Several evalkit processes may share one cache (WAL).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from evalkit.errors import UsageError
from evalkit.records import GoldItem

CACHE_ENV = "EVALKIT_CACHE_DIR"
DEFAULT_CACHE_DIR = Path(".evalkit")
CACHE_FILE = "cache.sqlite"
KEY_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    key        TEXT PRIMARY KEY,
    backend    TEXT NOT NULL,
    summary    TEXT NOT NULL,
    latency_s  REAL,
    created    REAL NOT NULL,
    last_used  REAL NOT NULL,
    hits       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS predictions_backend ON predictions(backend);
"""


def output_identity(backend: Any) -> dict[str, Any]:
    """``backend.identity()`` without the options the backend declares as runtime-only.

    A backend lists in ``runtime_options`` the options that change how it runs (concurrency,
    timeouts, retries) but never what it writes; changing those must not empty the cache.
    """
    ident = dict(backend.identity())
    runtime = set(getattr(type(backend), "runtime_options", ()) or ())
    if runtime and isinstance(ident.get("options"), Mapping):
        ident["options"] = {k: v for k, v in ident["options"].items() if k not in runtime}
    return ident


def identity_digest(identity: Mapping[str, Any]) -> str:
    blob = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_key(identity_hash: str, item: GoldItem) -> str:
    """sha256 over (key version, backend identity digest, title, article)."""
    blob = json.dumps([KEY_VERSION, identity_hash, item.title, item.article], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedSummary:
    summary: str
    latency_s: Optional[float]


@dataclass
class CacheStats:
    path: str
    exists: bool
    entries: int = 0
    size_bytes: int = 0
    hits: int = 0
    by_backend: dict[str, dict[str, int]] = field(default_factory=dict)
    oldest: Optional[float] = None
    newest: Optional[float] = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "exists": self.exists, "entries": self.entries, "size_bytes": self.size_bytes,
                "hits": self.hits, "by_backend": self.by_backend, "oldest": self.oldest, "newest": self.newest}


class PredictionCache:
    """Summaries by content key. One connection per instance; use it from one thread."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._conn: Optional[sqlite3.Connection] = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(_SCHEMA)
            except (OSError, sqlite3.Error) as e:
                raise UsageError(f"cannot open the prediction cache {self.path}: {e} "
                                 f"(set {CACHE_ENV} or run with --no-cache)") from None
            self._conn = conn
        return self._conn

    def get(self, key: str) -> Optional[CachedSummary]:
        row = self.conn.execute("SELECT summary, latency_s FROM predictions WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self.conn.execute("UPDATE predictions SET hits = hits + 1, last_used = ? WHERE key = ?", (time.time(), key))
        return CachedSummary(summary=row[0], latency_s=row[1])

    def put(self, key: str, backend: str, summary: str, latency_s: Optional[float]) -> None:
        now = time.time()
        self.conn.execute(
            "INSERT INTO predictions (key, backend, summary, latency_s, created, last_used, hits) "
            "VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT(key) DO UPDATE SET summary = excluded.summary, "
            "latency_s = excluded.latency_s, last_used = excluded.last_used",
            (key, backend, summary, latency_s, now, now),
        )

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])

    def stats(self) -> CacheStats:
        if not self.path.is_file():
            return CacheStats(path=str(self.path), exists=False)
        c = self.conn
        entries, hits, oldest, newest = c.execute(
            "SELECT COUNT(*), COALESCE(SUM(hits), 0), MIN(created), MAX(created) FROM predictions").fetchone()
        by_backend = {b: {"entries": n, "hits": h} for b, n, h in c.execute(
            "SELECT backend, COUNT(*), COALESCE(SUM(hits), 0) FROM predictions GROUP BY backend ORDER BY backend")}
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return CacheStats(path=str(self.path), exists=True, entries=entries, size_bytes=size, hits=hits,
                          by_backend=by_backend, oldest=oldest, newest=newest)

    def clear(self, backend: Optional[str] = None) -> int:
        """Delete every entry (or those of one backend); returns how many were deleted."""
        if not self.path.is_file():
            return 0
        if backend is None:
            n = self.conn.execute("DELETE FROM predictions").rowcount
        else:
            n = self.conn.execute("DELETE FROM predictions WHERE backend = ?", (backend,)).rowcount
        self.conn.execute("VACUUM")
        return int(n)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def cache_dir(directory: Path | str | None = None) -> Path:
    if directory is not None:
        return Path(directory)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else DEFAULT_CACHE_DIR


def default_cache(directory: Path | str | None = None) -> PredictionCache:
    """The cache at ``directory``, else ``$EVALKIT_CACHE_DIR``, else ``.evalkit/`` (cwd)."""
    return PredictionCache(cache_dir(directory) / CACHE_FILE)


def cache_stats(directory: Path | str | None = None) -> CacheStats:
    cache = default_cache(directory)
    try:
        return cache.stats()
    finally:
        cache.close()


def clear_cache(directory: Path | str | None = None, backend: Optional[str] = None) -> int:
    cache = default_cache(directory)
    try:
        return cache.clear(backend)
    finally:
        cache.close()
