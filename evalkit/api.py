"""evalkit's Python API: what the ``evalkit`` command line runs, as functions.

``evaluate`` runs systems over a gold set and scores them; ``score`` scores predictions made
elsewhere; ``load_run`` reads a run directory; ``load_gold`` reads a gold set; ``rescore_run`` and
``resume_run`` re-enter a run directory. Each returns a :class:`evalkit.run.Run` (or a GoldSet).

Nothing is written unless asked: with ``out=None`` a run is held in memory (no run directory,
no cache, no git call, no progress bars) and no ``evalkit.toml`` is read unless ``config=`` names
one. Heavy libraries (pandas, scipy...) are imported when a function runs, not on import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from evalkit.backends.base import Backend
from evalkit.errors import UsageError
from evalkit.metrics.base import Metric
from evalkit.records import GoldItem, GoldSet, Prediction, SystemSpec

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.cache import PredictionCache
    from evalkit.config import Config
    from evalkit.run import Run
    from evalkit.score_cache import ScoreCache
    from evalkit.scoring import Scorer

__all__ = ["evaluate", "load_gold", "load_run", "rescore_run", "resume_run", "score"]

#: a gold set: a file path or ``hf:NAME[:CONFIG][:SPLIT]``, a GoldSet, GoldItems or dicts, or a DataFrame
GoldLike = Union[str, Path, GoldSet, Iterable[Union[GoldItem, Mapping[str, Any]]], "pd.DataFrame"]
#: one system: a spec string (``lead:k=3``, ``openai:model=...``, ``mypkg.mod:MyBackend``, a config
#: name), a Backend instance, or any callable ``(GoldItem) -> str``, sync or async
SystemLike = Union[str, Backend, Callable[[GoldItem], Any]]
#: systems by name, or spec strings named as on the command line (``fast=lead:k=1``)
SystemsLike = Union[Mapping[str, SystemLike], Sequence[str]]
#: ``"rouge,quotes"`` as on the command line, or a list of such names and Metric instances
MetricsLike = Union[str, Sequence[Union[str, Metric]], None]
#: True: ``$EVALKIT_CACHE_DIR`` or ``./.evalkit``; a folder; an open PredictionCache; None/False: no cache
CacheLike = Union[bool, str, Path, "PredictionCache", None]
ConfigLike = Union[str, Path, "Config", None]
#: predictions made elsewhere: a JSONL/CSV file, a DataFrame, or rows (dicts or Predictions)
PredictionsLike = Union[str, Path, "pd.DataFrame", Iterable[Union[Prediction, Mapping[str, Any]]]]


def load_gold(spec: Optional[GoldLike] = None, *, fields: Optional[Mapping[str, str]] = None, name: Optional[str] = None,
              limit: Optional[int] = None) -> GoldSet:
    """A validated gold set from a file (``.jsonl``, ``.json``, ``.csv``, ``.tsv``, ``.parquet``),
    ``hf:NAME[:CONFIG][:SPLIT]`` (the ``[hf]`` extra), a GoldSet, GoldItems, dicts or a DataFrame
    with ``id``, ``article``, ``key_points`` (optional ``title``, ``summary``, ``meta``); None:
    the news-v1 set shipped with evalkit (44 invented news articles).

    ``fields`` maps gold fields to other column names (``{"key_points": "highlights"}``);
    ``limit`` keeps the first items. Bad input raises ``InputError`` naming the row and field.
    """
    from evalkit.gold import build_gold_set, default_gold_path
    from evalkit.gold import load_gold as load_gold_file
    from evalkit.subset import select

    if spec is None:
        spec = default_gold_path()
    if isinstance(spec, GoldSet):
        gold = spec
    elif isinstance(spec, (str, Path)):
        gold = load_gold_file(spec, fields=fields, name=name)
    else:
        rows = [(n, _gold_record(r, n)) for n, r in enumerate(_records(spec), 1)]
        gold = build_gold_set(rows, source="<memory>", name=name or "in-memory", fields=fields)
    return select(gold, limit=limit)[0]


def evaluate(gold: Optional[GoldLike], systems: SystemsLike = (), metrics: MetricsLike = None,
             out: Union[str, Path, None] = None, cache: CacheLike = None, seed: Optional[int] = 0,
             progress: bool = False, *, config: ConfigLike = None, limit: Optional[int] = None,
             sample: Optional[int] = None, shard: Optional[str] = None,
             max_errors: Optional[int] = None, max_output_chars: Optional[int] = None, overwrite: bool = False,
             min_items: Optional[int] = None, fields: Optional[Mapping[str, str]] = None,
             argv: Sequence[str] = (), executor: Optional[str] = None, ray_address: Optional[str] = None) -> Run:
    """Run ``systems`` over ``gold``, score them with ``metrics``: a :class:`~evalkit.run.Run`.

    ``systems``: ``{"name": spec}`` where spec is a spec string (``"lead:k=3"``, ``"openai:model=..."``,
    ``"mypkg.mod:MyBackend"``), a Backend instance, or a function ``(GoldItem) -> str`` (sync or
    async; wrapped in a :class:`~evalkit.backends.function.FunctionBackend`, never cached); or a
    list of spec strings as ``-s`` takes them. Empty: the config's ``[run] systems``, else lead,
    textrank, oracle. ``gold`` None: the config's ``[run] gold``, else the shipped news-v1 set.
    ``metrics``: ``"rouge,quotes"``, single outputs, ``mypkg.mod:MyMetric``, options
    (``rouge:tokenizer=unicode``) or Metric instances (default: the config's, else rouge, quotes, numbers).

    ``out``: the run directory to write (refused if it holds a run, unless ``overwrite``); None:
    nothing is written anywhere. ``cache``: see ``CacheLike`` (default: none). ``seed``: of the
    bootstrap and permutation draws (None: the config's). ``config``: an ``evalkit.toml`` (or a
    loaded Config) for named systems, metric options and ``[run]``/``[stats]`` defaults; none is
    read unless given. ``limit``: the first items of the gold set only; ``sample``: a seeded random
    sample of that many items (the seed is ``seed``); ``shard``: ``"I/N"``, shard I of N (see
    evalkit/subset.py; the manifest records the part taken); ``fields``: gold fields
    mapped to other columns (``{"key_points": "highlights"}``); ``max_errors``: stop after that
    many failed rows; ``max_output_chars``: a longer output is that row's error; ``min_items``:
    pairs sharing fewer items are "too few items to compare". ``argv`` is recorded in the
    manifest (the command line that made the run). ``executor``: ``"local"`` (this process, the
    default) or ``"ray"`` (the ``[ray]`` extra; ``ray_address``, else ``$RAY_ADDRESS``, else
    ``[run] ray_address``, else a local Ray instance; see docs/scale-out.md).
    """
    from evalkit.executors import open_executor
    from evalkit.gold import default_gold_path
    from evalkit.pipeline import DEFAULT_SYSTEMS, RunSettings, new_run
    from evalkit.runner import DEFAULT_MAX_OUTPUT_CHARS
    from evalkit.subset import select

    for label, value in (("max_errors", max_errors), ("limit", limit), ("sample", sample),
                         ("max_output_chars", max_output_chars), ("min_items", min_items)):
        if value is not None and value < 1:
            raise UsageError(f"{label} must be at least 1")
    cfg = _config(config)
    seed = seed if seed is not None else cfg.run.seed
    gold_set, selection = select(load_gold(gold if gold is not None else (cfg.run.gold or default_gold_path()),
                                           fields=fields), limit=limit, sample=sample, seed=seed, shard=shard)
    if not systems:
        systems = cfg.run.systems or list(DEFAULT_SYSTEMS)
    specs, backends = resolve_systems(systems, cfg)
    scorers = resolve_metrics(metrics, cfg)
    settings = RunSettings(
        out=Path(out) if out is not None else None, overwrite=overwrite, max_errors=max_errors, progress=progress,
        seed=seed, limit=limit, selection=selection, argv=list(argv),
        max_output_chars=max_output_chars or cfg.run.max_output_chars or DEFAULT_MAX_OUTPUT_CHARS,
        min_items=min_items or cfg.stats.min_items, prices=cfg.prices,
        executor=open_executor(executor, address=ray_address, config=cfg))
    store, owned = _cache(cache)
    settings.cache = store
    settings.score_cache = _score_cache(store)
    try:
        return new_run(gold_set, specs, scorers, settings, backends)
    finally:
        _close(store if owned else None, settings.score_cache)


def score(gold: GoldLike, predictions: PredictionsLike, metrics: MetricsLike = None, *,
          out: Union[str, Path, None] = None, seed: Optional[int] = 0, config: ConfigLike = None,
          overwrite: bool = False, min_items: Optional[int] = None, argv: Sequence[str] = (),
          progress: bool = False, cache: CacheLike = None) -> Run:
    """Score predictions made elsewhere: a :class:`~evalkit.run.Run`.

    ``predictions``: a JSONL or CSV file, a DataFrame, or a list of dicts (or Predictions) with
    ``gold_id``, ``system``, ``summary`` (optional ``key_points``, ``error``, ``latency_s``). An
    item a system has no row for counts as a failed row. ``out``/``config``/``seed`` as in
    :func:`evaluate` (nothing is written when ``out`` is None). ``progress``: show which metric is
    being scored (on a terminal). ``cache``: the score cache (see ``CacheLike``; default: none).
    """
    from evalkit.pipeline import score_run
    from evalkit.predictions_io import predictions_from_rows, read_predictions_file

    if min_items is not None and min_items < 1:
        raise UsageError("min_items must be at least 1")
    cfg = _config(config)
    gold_set = load_gold(gold)
    if isinstance(predictions, (str, Path)):
        rows, source = read_predictions_file(Path(predictions), gold_set), str(predictions)
    else:
        source = "<DataFrame>" if hasattr(predictions, "to_dict") else "<list>"
        records = [r.model_dump() if isinstance(r, Prediction) else r for r in _records(predictions)]
        rows = predictions_from_rows(list(enumerate(records, 1)), gold_set, source=source)
    store, owned = _cache(cache)
    score_cache = _score_cache(store)
    try:
        return score_run(gold_set, rows, resolve_metrics(metrics, cfg), source=source,
                         out=Path(out) if out is not None else None, overwrite=overwrite,
                         seed=seed if seed is not None else cfg.run.seed, argv=argv,
                         min_items=min_items or cfg.stats.min_items, prices=cfg.prices, progress=progress,
                         score_cache=score_cache)
    finally:
        _close(store if owned else None, score_cache)


def load_run(path: Union[str, Path]) -> Run:
    """The finished run in run directory ``path`` (an incomplete one is refused, saying how to finish it)."""
    from evalkit.run import Run

    return Run.load(path)


def rescore_run(path: Union[str, Path], metrics: MetricsLike = None, *, config: ConfigLike = None,
                progress: bool = False, cache: CacheLike = None) -> Run:
    """Re-score a run directory's saved predictions in place (``evalkit score --run``): every
    metric it has, or the named ones merged into the others (see evalkit/rescore.py).
    ``progress``: show which metric is being scored (on a terminal). ``cache``: the score cache
    (see ``CacheLike``; default: none)."""
    from evalkit.rescore import rescore as rescore_dir

    text = metrics if isinstance(metrics, str) or metrics is None else ",".join(_metric_names(metrics))
    store, owned = _cache(cache)
    score_cache = _score_cache(store)
    try:
        return rescore_dir(Path(path), metrics=text, config=_config(config), progress=progress,
                           score_cache=score_cache)
    finally:
        _close(store if owned else None, score_cache)


def resume_run(path: Union[str, Path], *, systems: SystemsLike = (), cache: CacheLike = None,
           config: ConfigLike = None, max_errors: Optional[int] = None, progress: bool = False,
           retry_failed: bool = False, executor: Optional[str] = None, ray_address: Optional[str] = None) -> Run:
    """Finish an interrupted run directory (``evalkit run --resume``), only if it is the same run.

    ``systems``: spec strings that supply a system's secrets again, or Backend instances /
    functions the run was made with, by name. ``retry_failed``: redo the failed rows.
    ``executor``/``ray_address``: as in :func:`evaluate`.
    """
    from evalkit.executors import open_executor
    from evalkit.resume import resume_run as resume_dir

    cfg = _config(config)
    texts: list[str] = []
    backends: dict[str, Backend] = {}
    if isinstance(systems, Mapping):
        for name, value in systems.items():
            if isinstance(value, str):
                texts.append(f"{name}={value}")
            else:
                backends[name] = _backend_of(value)
    else:
        texts = list(systems)
    store, owned = _cache(cache)
    score_cache = _score_cache(store)
    try:
        return resume_dir(path, cfg, systems=texts, backends=backends, cache=store, max_errors=max_errors,
                          progress=progress, retry_failed=retry_failed,
                          executor=open_executor(executor, address=ray_address, config=cfg), score_cache=score_cache)
    finally:
        _close(store if owned else None, score_cache)


# --------------------------------------------------------------------------------------------
# resolving the inputs (shared with the command line)
# --------------------------------------------------------------------------------------------

def resolve_systems(systems: SystemsLike, config: Config) -> tuple[list[SystemSpec], dict[str, Backend]]:
    """System specs (as recorded in the manifest) and the backends given already built, by name."""
    from evalkit.pipeline import resolve_systems as parse_specs

    if isinstance(systems, str):
        raise UsageError(f"systems is a list of spec strings or a mapping of names to systems, not one string: "
                         f"write [{systems!r}]")
    if not isinstance(systems, Mapping):
        return parse_specs(list(systems), config), {}
    specs: list[SystemSpec] = []
    backends: dict[str, Backend] = {}
    for name, value in systems.items():
        if not isinstance(name, str) or not name:
            raise UsageError(f"system names must be non-empty strings, got {name!r}")
        if isinstance(value, str):
            from evalkit.backends import parse_system

            specs.append(parse_system(value, config.systems).model_copy(update={"name": name}))
            continue
        backend = _backend_of(value)
        backends[name] = backend
        specs.append(SystemSpec(name=name, backend=backend_ref(backend),
                                options=backend.options.model_dump(mode="json")))
    return specs, backends


def resolve_metrics(metrics: MetricsLike, config: Config) -> list[Scorer]:
    """Scorers from ``--metrics`` text, a list of names, or Metric instances."""
    from evalkit.pipeline import resolve_scorers
    from evalkit.scoring import Scorer

    if metrics is None or isinstance(metrics, str):
        return resolve_scorers(metrics, config)
    names = [m for m in metrics if isinstance(m, str)]
    scorers = resolve_scorers(",".join(names), config) if names else []
    for m in metrics:
        if isinstance(m, Metric):
            scorers.append(Scorer(m))
        elif not isinstance(m, str):
            raise UsageError(f"metrics takes names and Metric instances, not {type(m).__name__}")
    families = [s.metric.family for s in scorers]
    if len(set(families)) != len(families):
        raise UsageError(f"metric family given twice: {', '.join(families)}")
    if not scorers:
        raise UsageError("no metrics given")
    return scorers


def backend_ref(backend: Backend) -> str:
    """How the manifest names a backend instance: its registered name when that name loads this
    very class, else ``package.module:Class``."""
    from evalkit.plugins import discover

    cls = type(backend)
    ref = f"{cls.__module__}:{cls.__qualname__}"
    ep = discover("evalkit.backends").get(backend.name) if backend.name else None
    return backend.name if ep is not None and ep.value == ref else ref


def _backend_of(value: Any) -> Backend:
    from evalkit.backends.function import FunctionBackend

    if isinstance(value, Backend):
        return value
    if isinstance(value, type) and issubclass(value, Backend):
        raise UsageError(f"{value.__name__} is a Backend class: pass an instance ({value.__name__}()) or a spec string")
    if callable(value):
        return FunctionBackend(value)
    raise UsageError(f"a system is a spec string, a Backend instance or a function, not {type(value).__name__}")


def _metric_names(metrics: Sequence[Union[str, Metric]]) -> list[str]:
    return [m if isinstance(m, str) else m.family for m in metrics]


def _config(config: ConfigLike) -> Config:
    from evalkit.config import Config, load_config

    if isinstance(config, Config):
        return config
    return load_config(config) if config is not None else Config()


def _score_cache(store: Optional[PredictionCache]) -> Optional[ScoreCache]:
    """The score cache beside a prediction cache (the same database; see evalkit/score_cache.py)."""
    from evalkit.score_cache import ScoreCache

    return ScoreCache(store.path) if store is not None else None


def _close(*caches: Optional[Union[PredictionCache, ScoreCache]]) -> None:
    for c in caches:
        if c is not None:
            c.close()


def _cache(cache: CacheLike) -> tuple[Optional[PredictionCache], bool]:
    """The cache to use and whether this call opened it (and closes it)."""
    from evalkit.cache import PredictionCache, default_cache

    if cache is None or cache is False:
        return None, False
    if isinstance(cache, PredictionCache):
        return cache, False
    if cache is True:
        return default_cache(), True
    if isinstance(cache, (str, Path)):
        return default_cache(cache), True
    raise UsageError(f"cache is True, a folder, a PredictionCache or None, not {type(cache).__name__}")


def _records(data: Any) -> list[Any]:
    """Rows of a DataFrame (NaN cells dropped) or of any iterable."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        rows = data.to_dict(orient="records")
        return [{k: v for k, v in r.items() if not (isinstance(v, float) and v != v) and v is not None} for r in rows]
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise UsageError(f"expected rows (a DataFrame or a list of dicts), got {type(data).__name__}")
    return list(data)


def _gold_record(row: Any, n: int) -> Any:
    from evalkit.errors import InputError
    from evalkit.gold import split_key_points

    if isinstance(row, GoldItem):
        return row.model_dump()
    if isinstance(row, Mapping):
        out = dict(row)
        kp = out.get("key_points")
        if isinstance(kp, str):
            try:
                out["key_points"] = split_key_points(kp)
            except ValueError as e:
                raise InputError(str(e), path="<memory>", line=n, field="key_points", row_label="row") from None
        elif kp is not None and hasattr(kp, "tolist"):
            out["key_points"] = list(kp.tolist())
        return out
    return row
