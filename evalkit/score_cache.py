"""The score cache: one metric's result for one (prediction, gold item), computed once.

A row holds an item's values, its detail (quote verdicts, figures, ...) and its flags (what
the metric's run-level warnings count), in table ``scores`` of the prediction cache's SQLite
database (``.evalkit/cache.sqlite``, see evalkit/cache.py). A warm re-run of an unchanged run
reads every score and only recomputes the statistics; changing one metric's config
recomputes that metric only.

The key is the sha256 of everything the result depends on:

- the metric's identity: its class, its full recorded spec (config, library and engine
  versions, e.g. rouge-score-rs, rapidfuzz, pysbd, bert-score and the model hash) and a
  digest of evalkit's own source code (every ``.py`` file of the package, and the module of a
  plug-in metric): a changed metric implementation misses, an upgraded library misses;
- the content of every ``Pair`` field the metric reads (``Metric.reads``: rouge reads the
  summary and the references, quotes the summary and the article, ...), each by sha256.

A metric whose values depend on the whole batch (bertscore with ``idf=true``) says so
(``Metric.cacheable``) and is never cached. ``--no-cache`` reads and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

from evalkit.cache import CACHE_FILE, CacheTable, cache_dir, guarded
from evalkit.metrics.base import ItemScore, Metric, Pair
from evalkit.text import TextStore

#: bump when the key's recipe or the payload's shape changes
SCORE_KEY_VERSION = 1
_CHUNK = 500  # keys per SELECT (SQLite's parameter limit is 999 on old builds)


@lru_cache(maxsize=64)
def _source_digest(files: tuple[tuple[str, int, int], ...]) -> str:
    """sha256 over the files' relative names and bytes (cached by name, size and mtime)."""
    h = hashlib.sha256()
    for name, _, _ in files:
        h.update(Path(name).name.encode("utf-8") + b"\0")
        h.update(Path(name).read_bytes())
    return h.hexdigest()


def code_digest(metric_cls: type) -> Optional[str]:
    """sha256 of evalkit's source files, plus the plug-in metric's own module when it is not
    part of evalkit (the code that computes a score is part of its identity). None when that
    module is not a file that can be read (a class defined in ``python -c``, a REPL or a
    notebook cell): its code cannot be in the key, so its scores are not cached."""
    import evalkit
    from evalkit.plugins import is_evalkit_code, source_file

    root = Path(evalkit.__file__).resolve().parent
    paths = sorted(root.rglob("*.py"))
    own = source_file(metric_cls)
    if own is None:
        return None
    if not is_evalkit_code(own):
        paths.append(own)
    stamped = []
    for p in paths:
        st = p.stat()
        stamped.append((str(p), st.st_size, st.st_mtime_ns))
    return _source_digest(tuple(stamped))


def metric_digest(metric: Metric) -> Optional[str]:
    """The part of every key that names the metric: class, full spec, code (None: its code is
    unknown, see :func:`code_digest`, and its scores are not cached)."""
    cls = type(metric)
    code = code_digest(cls)
    if code is None:
        return None
    blob = json.dumps([SCORE_KEY_VERSION, f"{cls.__module__}.{cls.__qualname__}",
                       metric.identity().model_dump(mode="json"), code],
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def item_key(digest: str, pair: Pair, reads: Iterable[str], texts: TextStore) -> str:
    """The key of ``pair`` under a metric (``digest``: :func:`metric_digest`)."""
    parts = [digest]
    for name in reads:
        value = getattr(pair, name)
        if value is None:
            parts.append(f"{name}:null")
        elif isinstance(value, str):
            parts.append(f"{name}:" + texts.memo("sha256", value, _text_digest))
        else:  # a tuple of texts: references, key points
            parts.append(f"{name}[{len(value)}]:" + ",".join(texts.memo("sha256", v, _text_digest) for v in value))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _payload(result: ItemScore) -> str:
    return json.dumps({"v": result.values, "d": result.detail, "f": result.flags}, ensure_ascii=False,
                      separators=(",", ":"), allow_nan=True)


def _result(payload: str) -> ItemScore:
    data = json.loads(payload)
    return ItemScore(values=data["v"], detail=data.get("d"), flags=data.get("f"))


class ScoreCache(CacheTable):
    """Item results by key, in the cache database. One connection; use it from one thread."""

    def __init__(self, path: Path | str):
        super().__init__(path)
        self.hits = 0
        self.misses = 0

    @guarded
    def get_many(self, keys: Sequence[str]) -> dict[str, ItemScore]:
        """The cached results among ``keys`` (each read once, its hit counted)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, ItemScore] = {}
        now = time.time()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(f"SELECT key, payload FROM scores WHERE key IN ({marks})", chunk).fetchall()
            for key, payload in rows:
                try:
                    found[key] = _result(payload)
                except (ValueError, KeyError, TypeError):
                    continue  # a damaged row is a miss (and is overwritten)
            if rows:
                self.conn.execute(f"UPDATE scores SET hits = hits + 1, last_used = ? WHERE key IN ({marks})",
                                  [now, *chunk])
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        return found

    @guarded
    def put_many(self, metric: str, results: Mapping[str, ItemScore]) -> None:
        now = time.time()
        rows = [(key, metric, _payload(r), now, now) for key, r in results.items()]
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(
                "INSERT INTO scores (key, metric, payload, created, last_used, hits) VALUES (?, ?, ?, ?, ?, 0) "
                "ON CONFLICT(key) DO UPDATE SET payload = excluded.payload, last_used = excluded.last_used", rows)

    @guarded
    def __len__(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0])



def default_score_cache(directory: Path | str | None = None) -> ScoreCache:
    """The score table of the cache at ``directory``, else ``$EVALKIT_CACHE_DIR``, else ``.evalkit/``."""
    return ScoreCache(cache_dir(directory) / CACHE_FILE)


@dataclass
class CachePlan:
    """What a metric still has to compute for ``pairs``: the results the cache had (read once,
    their hits counted) and the pairs it lacks (``todo``: each distinct key once)."""

    metric: Metric
    pairs: Sequence[Pair]
    keys: Optional[list[str]]  # None: no cache, every pair is computed
    found: dict[str, ItemScore]
    todo_keys: list[str]
    todo: list[Pair]

    def finish(self, fresh: Sequence[ItemScore], cache: Optional[ScoreCache]) -> list[ItemScore]:
        """Every pair's result, in order, from the cached ones and ``fresh`` (the results of
        ``todo``, in its order), which are stored."""
        if len(fresh) != len(self.todo):
            raise RuntimeError(f"metric {self.metric.family!r} returned {len(fresh)} results for {len(self.todo)} pairs")
        if self.keys is None:
            return list(fresh)
        new = dict(zip(self.todo_keys, fresh))
        if new and cache is not None:
            cache.put_many(self.metric.family, new)
        found = {**self.found, **new}
        return [found[k] for k in self.keys]


def plan(metric: Metric, pairs: Sequence[Pair], texts: TextStore, cache: Optional[ScoreCache]) -> CachePlan:
    """Look every pair up in ``cache`` (None: nothing cached, every pair to compute)."""
    digest = metric_digest(metric) if cache is not None else None
    if cache is None or digest is None:  # no cache, or a metric whose code cannot be read (see metric_digest)
        return CachePlan(metric, pairs, None, {}, [], list(pairs))
    keys = [item_key(digest, p, metric.reads, texts) for p in pairs]
    found = cache.get_many(keys)
    todo: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k not in found and k not in todo:
            todo[k] = i
    return CachePlan(metric, pairs, keys, found, list(todo), [pairs[i] for i in todo.values()])


def cached_compute(metric: Metric, pairs: Sequence[Pair], texts: TextStore, cache: Optional[ScoreCache],
                   compute: Callable[[list[Pair]], Sequence[ItemScore]]) -> list[ItemScore]:
    """Every pair's result: read from ``cache`` where it has one, the rest by ``compute(pairs)``
    (each distinct key once) and stored. Without a cache, ``compute(pairs)`` on them all."""
    planned = plan(metric, pairs, texts, cache)
    return planned.finish(list(compute(planned.todo)) if planned.todo else [], cache)
