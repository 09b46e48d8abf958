"""evalkit: an evaluation harness for summarizers.

The Python API (the ``evalkit`` command line is a thin shell over it; see docs/python-api.md)::

    import evalkit

    run = evalkit.evaluate("gold.jsonl", {"lead": "lead:k=3", "mine": my_function}, metrics="rouge,quotes")
    run.summary_df()        # mean, CI, n per system and metric
    run.details_df()        # one row per quote / figure / key point with its verdict
    run.compare("lead", "mine", metric="rougeLsum").verdicts

Every name below is imported on first use, so ``import evalkit`` stays light (no pandas, numpy,
scipy or torch until a run needs them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "evaluate": "evalkit.api", "score": "evalkit.api", "load_run": "evalkit.api", "load_gold": "evalkit.api",
    "rescore_run": "evalkit.api", "resume_run": "evalkit.api",
    "Run": "evalkit.run",
    "GoldItem": "evalkit.records", "GoldSet": "evalkit.records", "Prediction": "evalkit.records",
    "Manifest": "evalkit.records", "RunSummary": "evalkit.records", "MetricSpec": "evalkit.records",
    "SystemSpec": "evalkit.records", "ItemDetail": "evalkit.records", "RunComparisons": "evalkit.comparison_records",
    "Usage": "evalkit.records",
    "Backend": "evalkit.backends.base", "BackendOptions": "evalkit.backends.base", "Completion": "evalkit.backends.base",
    "FunctionBackend": "evalkit.backends.function",
    "Metric": "evalkit.metrics.base", "MetricConfig": "evalkit.metrics.base", "Pair": "evalkit.metrics.base",
    "ItemScore": "evalkit.metrics.base", "ScoringContext": "evalkit.metrics.base",
    "Comparison": "evalkit.compare", "GateReport": "evalkit.gate", "GateConfig": "evalkit.gate",
    "EvalkitError": "evalkit.errors", "UsageError": "evalkit.errors", "InputError": "evalkit.errors",
    "BackendError": "evalkit.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from evalkit.api import evaluate as evaluate
    from evalkit.api import load_gold as load_gold
    from evalkit.api import load_run as load_run
    from evalkit.api import rescore_run as rescore_run
    from evalkit.api import resume_run as resume_run
    from evalkit.api import score as score
    from evalkit.backends.base import Backend as Backend
    from evalkit.backends.base import BackendOptions as BackendOptions
    from evalkit.backends.base import Completion as Completion
    from evalkit.backends.function import FunctionBackend as FunctionBackend
    from evalkit.compare import Comparison as Comparison
    from evalkit.comparison_records import RunComparisons as RunComparisons
    from evalkit.errors import BackendError as BackendError
    from evalkit.errors import EvalkitError as EvalkitError
    from evalkit.errors import InputError as InputError
    from evalkit.errors import UsageError as UsageError
    from evalkit.gate import GateConfig as GateConfig
    from evalkit.gate import GateReport as GateReport
    from evalkit.metrics.base import ItemScore as ItemScore
    from evalkit.metrics.base import Metric as Metric
    from evalkit.metrics.base import MetricConfig as MetricConfig
    from evalkit.metrics.base import Pair as Pair
    from evalkit.metrics.base import ScoringContext as ScoringContext
    from evalkit.records import GoldItem as GoldItem
    from evalkit.records import GoldSet as GoldSet
    from evalkit.records import ItemDetail as ItemDetail
    from evalkit.records import Manifest as Manifest
    from evalkit.records import MetricSpec as MetricSpec
    from evalkit.records import Prediction as Prediction
    from evalkit.records import RunSummary as RunSummary
    from evalkit.records import SystemSpec as SystemSpec
    from evalkit.records import Usage as Usage
    from evalkit.run import Run as Run


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
