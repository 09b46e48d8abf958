"""The prediction cache: SQLite (standard library), content-addressed.

The key of a summary is the sha256 of what determines it: the backend's identity (name,
class, every option except secrets and runtime-only ones such as ``concurrency``, the
prompt text, the resolved model revision or fingerprints of local model files or scripts)
and what the backend reads of the item (``Backend.cache_inputs``: the fields it declares in
``reads``, or the request it sends). A re-run with nothing changed calls no backend;
changing an option, the prompt or anything the backend reads misses exactly the rows it
affects. Failed, empty and truncated (``finish_reason="length"``) outputs are never cached.

Default location ``.evalkit/cache.sqlite`` under the current directory, or
``$EVALKIT_CACHE_DIR/cache.sqlite``. Several evalkit processes may share one cache (WAL).

The same database holds the score cache (table ``scores``, see evalkit/score_cache.py):
``evalkit cache stats`` reports both tables, ``evalkit cache clear`` empties both (or one).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, TypeVar, cast

from evalkit.errors import UsageError
from evalkit.identity import identity_digest, output_identity

__all__ = ["CacheStats", "CachedSummary", "Cleared", "PredictionCache", "ScoreStats", "cache_key", "default_cache",
           "guarded", "identity_digest", "open_db", "output_identity"]

CACHE_ENV = "EVALKIT_CACHE_DIR"
DEFAULT_CACHE_DIR = Path(".evalkit")
CACHE_FILE = "cache.sqlite"
#: 2: per-item inputs are what the backend reads (was: title + article for every backend)
KEY_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    key        TEXT PRIMARY KEY,
    backend    TEXT NOT NULL,
    summary    TEXT NOT NULL,
    latency_s  REAL,
    meta       TEXT,
    created    REAL NOT NULL,
    last_used  REAL NOT NULL,
    hits       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS predictions_backend ON predictions(backend);
CREATE TABLE IF NOT EXISTS scores (
    key        TEXT PRIMARY KEY,
    metric     TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created    REAL NOT NULL,
    last_used  REAL NOT NULL,
    hits       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS scores_metric ON scores(metric);
"""


def cache_key(identity_hash: str, inputs: Mapping[str, Any]) -> str:
    """sha256 over (key version, backend identity digest, what the backend reads of the item)."""
    blob = json.dumps([KEY_VERSION, identity_hash, inputs], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedSummary:
    summary: str
    latency_s: Optional[float]
    #: what the backend reported about the call that produced it: ``model``, ``usage``
    meta: dict[str, Any] = field(default_factory=dict)


def open_db(path: Path) -> sqlite3.Connection:
    """The cache database at ``path`` (created with both tables if missing), in WAL mode."""
    conn: Optional[sqlite3.Connection] = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(predictions)")}
        if "meta" not in columns:  # a cache written by an earlier evalkit
            conn.execute("ALTER TABLE predictions ADD COLUMN meta TEXT")
    except (OSError, sqlite3.Error) as e:
        if conn is not None:
            conn.close()
        raise UsageError(f"cannot open the prediction cache {path}: {e} "
                         f"(set {CACHE_ENV} or run with --no-cache)") from None
    return conn


_F = TypeVar("_F", bound=Callable[..., Any])


def guarded(method: _F) -> _F:
    """A cache method (of an object with a ``path``) whose SQLite errors — a file damaged after
    its header, a lock held past the timeout — become one line naming the cache and what to do,
    instead of a bare ``DatabaseError``. The rows a run made before are in its journal."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as e:
            raise UsageError(f"cannot use the cache {self.path}: {e} (a damaged cache file can be deleted: "
                             f"rm {self.path}*; or run with --no-cache)") from None

    return cast(_F, wrapper)


def db_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


@dataclass
class ScoreStats:
    """The score table: entries and hits, per metric family."""

    entries: int = 0
    hits: int = 0
    by_metric: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "hits": self.hits, "by_metric": self.by_metric}


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
    scores: ScoreStats = field(default_factory=ScoreStats)

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "exists": self.exists, "entries": self.entries, "size_bytes": self.size_bytes,
                "hits": self.hits, "by_backend": self.by_backend, "oldest": self.oldest, "newest": self.newest,
                "scores": self.scores.as_dict()}


class CacheTable:
    """One table of the cache database, through one connection (opened on first use; use it
    from one thread): the base of PredictionCache and score_cache.ScoreCache."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._conn: Optional[sqlite3.Connection] = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_db(self.path)
        return self._conn

    def open(self) -> None:
        """Open the database now (it opens on first use otherwise): a run opens its caches before it
        writes anything, so a damaged cache file is refused with nothing written."""
        _ = self.conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PredictionCache(CacheTable):
    """Summaries by content key."""

    @guarded
    def get(self, key: str) -> Optional[CachedSummary]:
        row = self.conn.execute("SELECT summary, latency_s, meta FROM predictions WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self.conn.execute("UPDATE predictions SET hits = hits + 1, last_used = ? WHERE key = ?", (time.time(), key))
        try:
            meta = json.loads(row[2]) if row[2] else {}
        except ValueError:
            meta = {}
        return CachedSummary(summary=row[0], latency_s=row[1], meta=meta if isinstance(meta, dict) else {})

    @guarded
    def put(self, key: str, backend: str, summary: str, latency_s: Optional[float],
            meta: Optional[Mapping[str, Any]] = None) -> None:
        now = time.time()
        blob = json.dumps(dict(meta), sort_keys=True, ensure_ascii=False) if meta else None
        self.conn.execute(
            "INSERT INTO predictions (key, backend, summary, latency_s, meta, created, last_used, hits) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT(key) DO UPDATE SET summary = excluded.summary, "
            "latency_s = excluded.latency_s, meta = excluded.meta, last_used = excluded.last_used",
            (key, backend, summary, latency_s, blob, now, now),
        )

    @guarded
    def __len__(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])

    @guarded
    def stats(self) -> CacheStats:
        if not self.path.is_file():
            return CacheStats(path=str(self.path), exists=False)
        c = self.conn
        entries, hits, oldest, newest = c.execute(
            "SELECT COUNT(*), COALESCE(SUM(hits), 0), MIN(created), MAX(created) FROM predictions").fetchone()
        by_backend = {b: {"entries": n, "hits": h} for b, n, h in c.execute(
            "SELECT backend, COUNT(*), COALESCE(SUM(hits), 0) FROM predictions GROUP BY backend ORDER BY backend")}
        s_entries, s_hits = c.execute("SELECT COUNT(*), COALESCE(SUM(hits), 0) FROM scores").fetchone()
        by_metric = {m: {"entries": n, "hits": h} for m, n, h in c.execute(
            "SELECT metric, COUNT(*), COALESCE(SUM(hits), 0) FROM scores GROUP BY metric ORDER BY metric")}
        return CacheStats(path=str(self.path), exists=True, entries=entries, size_bytes=db_size(self.path), hits=hits,
                          by_backend=by_backend, oldest=oldest, newest=newest,
                          scores=ScoreStats(entries=s_entries, hits=s_hits, by_metric=by_metric))

    @guarded
    def clear(self, backend: Optional[str] = None) -> int:
        """Delete every summary (or those of one backend); returns how many were deleted."""
        return self._delete("predictions", "backend", backend)

    @guarded
    def clear_scores(self, metric: Optional[str] = None) -> int:
        """Delete every cached score (or those of one metric family); returns how many."""
        return self._delete("scores", "metric", metric)

    def _delete(self, table: Literal["predictions", "scores"], column: Literal["backend", "metric"],
                value: Optional[str]) -> int:
        if not self.path.is_file():
            return 0
        where, args = (f" WHERE {column} = ?", (value,)) if value is not None else ("", ())
        n = self.conn.execute(f"DELETE FROM {table}{where}", args).rowcount  # names from the Literals only
        self.conn.execute("VACUUM")
        return int(n)



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


@dataclass(frozen=True)
class Cleared:
    summaries: int
    scores: int


def clear_cache(directory: Path | str | None = None, backend: Optional[str] = None, *,
                table: Optional[str] = None, metric: Optional[str] = None) -> Cleared:
    """Empty the cache: both tables, or ``table`` ("predictions" / "scores") only. ``backend``
    limits the predictions cleared (and implies that table), ``metric`` the scores."""
    if table not in (None, "predictions", "scores"):
        raise UsageError(f"unknown cache table {table!r}: use predictions or scores")
    if backend is not None and metric is not None:
        raise UsageError("--backend clears cached summaries and --metric cached scores: give one of them")
    if backend is not None:
        table = table or "predictions"
    if metric is not None:
        table = table or "scores"
    if (backend is not None and table != "predictions") or (metric is not None and table != "scores"):
        raise UsageError("--backend goes with the predictions table, --metric with the scores table")
    cache = default_cache(directory)
    try:
        if backend is not None:
            check_backend_name(backend, list(cache.stats().by_backend), cache.path)
        if metric is not None:
            check_metric_name(metric, list(cache.stats().scores.by_metric), cache.path)
        summaries = cache.clear(backend) if table in (None, "predictions") else 0
        scores = cache.clear_scores(metric) if table in (None, "scores") else 0
        return Cleared(summaries, scores)
    finally:
        cache.close()


def check_backend_name(backend: str, cached: list[str], where: Path) -> None:
    from evalkit.plugins import discover

    _check_name("backend", "summaries", backend, cached, list(discover("evalkit.backends")), where)


def check_metric_name(metric: str, cached: list[str], where: Path) -> None:
    """A metric family to clear: cached, installed, or a ``package.module:Class`` plug-in."""
    from evalkit.plugins import discover

    if ":" in metric:  # a plug-in given as module:Class: its family name is the spec itself
        return
    _check_name("metric", "scores", metric, cached, list(discover("evalkit.metrics")), where)


def _check_name(kind: str, what: str, name: str, cached: list[str], installed: list[str], where: Path) -> None:
    """Refuse a name that is neither in the cache nor installed (a typo would clear nothing)."""
    import difflib

    if name in cached or name in installed:
        return
    close = difflib.get_close_matches(name, cached + installed, n=1)
    raise UsageError(f"unknown {kind} {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                     + f"; the cache at {where} holds {what} of: {', '.join(cached) or f'no {kind}'}"
                     + f" (installed {kind}s: {', '.join(installed)})")
