"""The Ray executor (``evalkit run --executor ray [--ray-address ADDR]``): a run's rows and its
metric work on a Ray cluster, its journal on the driver.

Connecting: to the cluster at ``--ray-address`` / ``RAY_ADDRESS`` / ``[run] ray_address``;
with none named, a local Ray instance is started for the run and stopped after it. A
process that already called ``ray.init`` (a test, a notebook) is used as it is.

Generation (``generate``): the runner has consulted the cache on the driver and hands over
the misses. They are cut into units exactly as the local executor cuts them (one item; a
``batch_size`` chunk for a batching backend, whose outputs may depend on what shares their
batch; ``concurrency`` items for an async one) and each unit becomes

* a **Ray task** (``max_retries``: a task whose worker process or node dies is run again),
  at most ``2 x cluster CPUs`` in flight (Ray's pattern for bounding pending tasks with
  ``ray.wait``), or
* for a backend that holds a model (``Backend.holds_model``: ``transformers``) a call on an
  **actor** of a ``ray.util.ActorPool``: one actor per GPU (``num_gpus=1``) where the cluster
  has GPUs, else per CPU, each loading the model once; a killed actor is restarted and its
  calls retried (``max_restarts``, ``max_task_retries``).

Each result is handed to the runner's ``finish`` on the driver as it arrives (``ray.wait``),
which journals the row, so a row is recorded once, however often Ray had to run it, and a
killed driver resumes with ``--resume`` exactly as a local run. A unit whose retries are
used up (its worker kept dying) becomes failed rows naming the cause (``--resume
--retry-failed`` redoes them); an ``EvalkitError`` on a worker (a node whose files differ
from the driver's) stops the run with its message.

Scoring (``score_predictions``): the driver reads and fills the score cache as a local run
does; what it lacks is computed on the cluster: item-local metrics (rouge, quotes, numbers,
extractiveness) as tasks over batches of pairs, model-based ones (bertscore, keypoints) in
one actor that loads the encoder once, with a GPU when the cluster has one. Each metric's
run-level notes and warnings are made on the driver from every pair's results, so
scores.csv and summary.json are byte-identical to a local run's on the same kind of hardware.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import TYPE_CHECKING, Any, Optional

from evalkit.errors import BackendError, EvalkitError, UsageError
from evalkit.executors import Executor, Finish
from evalkit.executors.ray_work import ModelScorer, RowActor, RowResult, compute_batch, score_batch, summarize_items
from evalkit.scoring_split import assemble, batches, combine, is_item_local, says_something

if TYPE_CHECKING:
    from evalkit.identity import BuiltSystem
    from evalkit.metrics import ItemScore, Metric, Pair, ScoringContext
    from evalkit.records import GoldItem, GoldSet, Prediction
    from evalkit.score_cache import ScoreCache
    from evalkit.scoring import ComputeFn, OnMetric, Scorer, ScoringResult

#: a task (or actor call) whose worker dies is run again this many times before its rows fail
MAX_RETRIES = 3
#: fewest pairs in a scoring batch (smaller batches cost more in overhead than they save)
MIN_SCORING_BATCH = 64


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, address: Optional[str] = None):
        self.address = address
        self._started = False
        self._remote: dict[str, Any] = {}

    # --- connecting ---------------------------------------------------------------------
    def __enter__(self) -> RayExecutor:
        import ray

        if not ray.is_initialized():
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
            if self.address:
                reachable(self.address)
            options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
            if not self.address:
                options["include_dashboard"] = False
            try:
                ray.init(address=self.address or "local", **options)
            except Exception as e:  # ConnectionError, TimeoutError, ValueError, RuntimeError...
                raise UsageError(f"--executor ray: cannot start or join {where}: {type(e).__name__}: {e}") from None
            self._started = True
        self._remote = {
            "summarize": ray.remote(summarize_items).options(max_retries=MAX_RETRIES, retry_exceptions=False),
            "score": ray.remote(score_batch).options(max_retries=MAX_RETRIES, retry_exceptions=False),
            "compute": ray.remote(compute_batch).options(max_retries=MAX_RETRIES, retry_exceptions=False),
            "RowActor": ray.remote(RowActor),
            "ModelScorer": ray.remote(ModelScorer),
        }
        return self

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    @staticmethod
    def resources() -> tuple[int, int]:
        """(CPUs, GPUs) of the cluster."""
        import ray

        res = ray.cluster_resources()
        return max(1, int(res.get("CPU", 1))), int(res.get("GPU", 0))

    # --- generation -----------------------------------------------------------------------
    def generate(self, system: BuiltSystem, items: Sequence[GoldItem], finish: Finish) -> None:
        backend = system.backend
        size = backend.batch_size if backend.batch_size > 1 else backend.concurrency if backend.is_async else 1
        units = [list(items[a:b]) for a, b in batches(len(items), size)]
        if getattr(type(backend), "holds_model", False):
            self._generate_on_actors(system, units, finish)
        else:
            self._generate_as_tasks(system, units, finish)

    def _generate_as_tasks(self, system: BuiltSystem, units: list[list[GoldItem]], finish: Finish) -> None:
        import ray

        cpus, _ = self.resources()
        spec = ray.put(system.spec)
        task = self._remote["summarize"]
        pending: dict[Any, list[GoldItem]] = {}
        todo: Iterator[list[GoldItem]] = iter(units)

        def submit(unit: list[GoldItem]) -> None:
            pending[task.remote(spec, system.identity, system.digest, unit)] = unit

        try:
            for unit in islice(todo, 2 * cpus):
                submit(unit)
            while pending:
                [ref], _ = ray.wait(list(pending), num_returns=1)
                unit = pending.pop(ref)
                _deliver(unit, lambda ref=ref: ray.get(ref), finish)
                nxt = next(todo, None)
                if nxt is not None:
                    submit(nxt)
        finally:
            for ref in pending:  # --max-errors, Ctrl-C, a fatal error: nothing more is journaled
                ray.cancel(ref)

    def _generate_on_actors(self, system: BuiltSystem, units: list[list[GoldItem]], finish: Finish) -> None:
        import ray
        from ray.util import ActorPool

        cpus, gpus = self.resources()
        wants_gpu = gpus > 0 and getattr(system.backend.options, "device", "auto") != "cpu"
        count = max(1, min(len(units), gpus if wants_gpu else cpus))
        resources = {"num_gpus": 1} if wants_gpu else {"num_cpus": 1}
        actors = [self._remote["RowActor"].options(max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES,
                                                   **resources).remote() for _ in range(count)]
        pool = ActorPool(actors)
        spec = ray.put(system.spec)
        for index, unit in enumerate(units):
            pool.submit(lambda actor, job: actor.run.remote(job[0], spec, system.identity, system.digest, job[1]),
                        (index, unit))
        outstanding = dict(enumerate(units))
        lost: Optional[BaseException] = None
        try:
            while pool.has_next():
                try:
                    index, rows = pool.get_next_unordered()
                except ray.exceptions.RayTaskError as e:
                    raise _cause(e) from None
                except ray.exceptions.RayError as e:  # an actor died for good: its unit stays outstanding
                    lost = e
                    continue
                unit = outstanding.pop(index)
                _deliver(unit, lambda rows=rows: rows, finish)
            for unit in outstanding.values():
                _fail(unit, lost or RuntimeError("no worker left"), finish)
        finally:
            for actor in actors:
                ray.kill(actor)

    # --- scoring --------------------------------------------------------------------------
    def score_predictions(self, gold: GoldSet, predictions: Sequence[Prediction], scorers: Sequence[Scorer],
                          source: str = "predictions", cache: Optional[ScoreCache] = None, *,
                          on_metric: Optional[OnMetric] = None) -> ScoringResult:
        """Scores on the cluster.

        Metrics that split their work (every built-in: ``Metric.compute`` per pair, then
        ``report``) go through ``scoring.score_pairs`` with only the computing sent to the
        cluster, every metric's at once: the score cache is read and filled on the driver, the
        pairs it lacks are computed by item-local metrics in batches of tasks and by model
        metrics in one actor that loads the encoder once (on a GPU when the cluster has one),
        and each metric's run-level messages are made on the driver from every pair's results. A run
        with a plug-in metric that only overrides ``score`` is scored as whole families on the
        cluster instead (``_score_families``; its results are not cached)."""
        from evalkit.scoring import make_pairs, score_pairs

        pairs = make_pairs(gold, predictions, source=source)
        if not pairs or not scorers:
            return score_pairs(pairs, scorers)
        if all(s.metric.splits_work() for s in scorers):
            with self._cluster_compute(scorers) as compute:
                return score_pairs(pairs, scorers, cache=cache, on_metric=on_metric, compute=compute)
        return self._score_families(pairs, scorers, on_metric)

    @contextmanager
    def _cluster_compute(self, scorers: Sequence[Scorer]) -> Iterator[ComputeFn]:
        """A ``ComputeFn`` that sends every metric's work to the cluster at once (see
        ``score_predictions``): item-local metrics as tasks over batches of pairs, model
        metrics as calls, in the run's order, on one actor that loads the encoder once and is
        stopped on exit; then it waits for them all."""
        import ray

        cpus, _ = self.resources()
        actor: Any = None

        def compute(work: Sequence[tuple[Metric, Sequence[Pair]]], context: ScoringContext) -> list[list[ItemScore]]:
            nonlocal actor
            refs: list[list[Any]] = []
            for metric, todo in work:
                if not todo:
                    refs.append([])
                elif getattr(type(metric), "item_local", False):
                    size = max(MIN_SCORING_BATCH, -(-len(todo) // (2 * cpus)))
                    task = self._remote["compute"]
                    refs.append([task.remote(metric, list(todo[a:b])) for a, b in batches(len(todo), size)])
                else:
                    if actor is None:
                        actor = self._model_scorer([s for s in scorers if not is_item_local(s)])
                    refs.append([actor.compute.remote(metric, list(todo))])
            parts = iter(_get([r for group in refs for r in group]))
            return [[result for _ in group for result in next(parts)] for group in refs]

        try:
            yield compute
        finally:
            if actor is not None:
                ray.kill(actor)

    def _model_scorer(self, model_scorers: Sequence[Scorer]) -> Any:
        """The actor that scores the model metrics (one encoder load), on a GPU when the cluster
        has one and a metric may use it."""
        _, gpus = self.resources()
        wants_gpu = gpus > 0 and any(getattr(s.metric.config, "device", "auto") != "cpu" for s in model_scorers)
        return self._remote["ModelScorer"].options(max_restarts=1, max_task_retries=1,
                                                   **({"num_gpus": 1} if wants_gpu else {"num_cpus": 1})).remote()

    def _score_families(self, pairs: Sequence[Pair], scorers: Sequence[Scorer],
                        on_metric: Optional[OnMetric]) -> ScoringResult:
        """Whole metric families on the cluster, assembled as evalkit/scoring_split.py explains
        (``on_metric``: told once, all families at a time, since they run at once)."""
        import ray

        if on_metric is not None:
            on_metric(", ".join(s.metric.family for s in scorers) + " on the cluster", 0, 1)
        cpus, _ = self.resources()
        local = [s for s in scorers if is_item_local(s)]
        whole = [s for s in scorers if not is_item_local(s)]
        model_ref = actor = None
        if whole:
            actor = self._model_scorer(whole)
            model_ref = actor.score.remote(pairs, whole)
        try:
            size = max(MIN_SCORING_BATCH, -(-len(pairs) // (2 * cpus)))
            task = self._remote["score"]
            batch_refs = [task.remote(pairs[a:b], local) for a, b in batches(len(pairs), size)] if local else []
            per_batch: list[list[ScoringResult]] = _get(batch_refs)
            parts: dict[int, ScoringResult] = {}
            again: dict[int, Any] = {}
            for j, scorer in enumerate(local):
                family = [b[j] for b in per_batch]
                if len(family) > 1 and any(says_something(p) for p in family):
                    again[j] = task.remote(pairs, [scorer])  # a statement about the whole set, not a batch
                else:
                    parts[id(scorer)] = combine(family)
            for j, [part] in zip(again, _get(list(again.values()))):
                parts[id(local[j])] = part
            if model_ref is not None:
                for scorer, part in zip(whole, _get([model_ref])[0]):
                    parts[id(scorer)] = part
        finally:
            if actor is not None:
                ray.kill(actor)
        return assemble(scorers, [parts[id(s)] for s in scorers])


#: seconds to wait for a cluster's address to answer before Ray is asked to join it (Ray itself
#: retries an unreachable address for minutes)
CONNECT_TIMEOUT_S = 10.0


def reachable(address: str) -> None:
    """Refuse, in one line, a cluster address nothing listens on (``host:port`` or ``ray://host:port``)."""
    import socket
    from urllib.parse import urlsplit

    if address in ("auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise UsageError(f"--ray-address {address!r}: use HOST:PORT (the head node's GCS, e.g. 10.0.0.5:6379), "
                         f"ray://HOST:PORT (Ray Client) or auto")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise UsageError(f"--executor ray: nothing answers at {address} ({e.strerror or type(e).__name__}); "
                         f"is the Ray cluster up? (ray status on its head node)") from None


def _get(refs: list[Any]) -> list[Any]:
    import ray

    try:
        return list(ray.get(refs)) if refs else []
    except ray.exceptions.RayTaskError as e:
        raise _cause(e) from None
    except ray.exceptions.RayError as e:  # a scoring worker lost more than MAX_RETRIES times
        raise UsageError(f"the Ray workers scoring this run were lost ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}); the predictions are kept: finish the run "
                         f"with evalkit run --resume RUN_DIR") from None


def _cause(error: Any) -> BaseException:
    """What a worker raised: an ``EvalkitError`` as it was (one line, exit 2), anything else named."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, EvalkitError):
        return cause
    if isinstance(cause, BaseException):
        return UsageError(f"a Ray worker failed: {type(cause).__name__}: {cause}")
    return UsageError(f"a Ray worker failed: {str(error).splitlines()[0] if str(error) else type(error).__name__}")


def _deliver(unit: list[GoldItem], get: Any, finish: Finish) -> None:
    """Hand a unit's rows to the runner (which journals them), in the unit's order."""
    import ray

    try:
        rows: list[RowResult] = get()
    except ray.exceptions.RayTaskError as e:
        raise _cause(e) from None
    except ray.exceptions.RayError as e:  # the worker (or node) died more than MAX_RETRIES times
        _fail(unit, e, finish)
        return
    by_id = {r.gold_id: r for r in rows}
    for item in unit:
        r = by_id[item.id]
        finish(item, r.output, None if r.error is None else BackendError(r.error), r.latency_s)


def _fail(unit: list[GoldItem], error: BaseException, finish: Finish) -> None:
    reason = str(error).splitlines()[0] if str(error) else ""
    message = (f"ray: the worker running this row was lost {MAX_RETRIES + 1} times ({type(error).__name__}"
               f"{': ' + reason if reason else ''}); redo it with --resume DIR --retry-failed")
    for item in unit:
        finish(item, None, BackendError(message), 0.0)
