"""Finding metrics (entry points ``evalkit.metrics``, or ``package.module:Class``) and building
them from their config.

``--metrics`` takes families (``rouge,quotes``), single outputs (``rouge1,rougeLsum``: the
family is built and only those outputs kept), options (``rouge:tokenizer=unicode``) and
ad-hoc classes, with options too (``mypkg.mod:MyMetric``, ``mypkg.mod:MyMetric:threshold=0.3``),
found by the loader backends use (:mod:`evalkit.plugins`). A single output is looked up in
the installed families, then in the ``package.module:Class`` families the config's
``[metrics."mypkg.mod:MyMetric"]`` tables or the same ``--metrics`` text name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import ValidationError

from evalkit.backends.registry import format_validation_error
from evalkit.errors import UsageError
from evalkit.metrics.base import Metric
from evalkit.plugins import discover, is_object_ref, load_named, require_installed, split_ref

GROUP = "evalkit.metrics"
#: the metrics `evalkit run` uses when none are named: cheap, no model (bertscore, keypoints load one)
DEFAULT_METRICS = ("rouge", "quotes", "numbers")
_ITEM_SPLIT = re.compile(r",(?![^,:=]*=)")  # a comma not followed by key=value starts a new metric


@dataclass(frozen=True)
class MetricRequest:
    family: str
    options: Mapping[str, Any]
    only: Optional[tuple[str, ...]] = None  # keep only these outputs (None: all)


def metric_class(name: str) -> type[Metric]:
    cls = load_named(GROUP, "metric", name)
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise UsageError(f"{name!r} is not an evalkit Metric subclass")
    return cls


def available_metrics() -> dict[str, type[Metric]]:
    return {name: metric_class(name) for name in discover(GROUP)}


def build_metric(family: str, options: Mapping[str, Any] | None = None) -> Metric:
    """The metric registered as ``family`` (or the ``package.module:Class`` it names), built
    from validated options; its ``family`` is that name, recorded in the run's MetricSpec."""
    cls = metric_class(family)
    require_installed(cls, "metric", family)
    try:
        config = cls.Config(**dict(options or {}))
    except ValidationError as e:
        known = ", ".join(cls.Config.model_fields) or "(none)"
        raise UsageError(f"bad options for metric {family!r}: {format_validation_error(e, list(cls.Config.model_fields))} "
                         f"(known options: {known})") from None
    metric = cls(config)
    metric.family = family
    return metric


def parse_metrics(text: str, configured: Mapping[str, Mapping[str, Any]] | None = None) -> list[MetricRequest]:
    """Parse ``--metrics``. ``configured`` holds options from the config file by family."""
    configured = configured or {}
    families: list[str] = list(discover(GROUP))
    items = [t.strip() for t in _ITEM_SPLIT.split(text) if t.strip()]
    refs = [f for f in configured if is_object_ref(f)] + [split_ref(t)[0] for t in items if is_object_ref(split_ref(t)[0])]
    requests: dict[str, MetricRequest] = {}
    given_by_family: dict[str, dict[str, str]] = {}  # options given on the command line, by family
    for raw in items:
        head, opts_text = split_ref(raw)
        if head in families or is_object_ref(head):
            family, only = head, None
        else:
            family, only = _family_of_output(head, [*families, *dict.fromkeys(refs)]), (head,)
        options: dict[str, Any] = dict(configured.get(family, {}))
        given: dict[str, str] = {}
        for pair in [p for p in opts_text.split(",") if p.strip()]:
            if "=" not in pair:
                raise UsageError(f"metric option {pair!r} in {raw!r} is not key=value")
            k, _, v = pair.partition("=")
            if k.strip() in given:
                raise UsageError(f"metric {raw!r}: option {k.strip()!r} given twice")
            given[k.strip()] = options[k.strip()] = v.strip()
        earlier = given_by_family.setdefault(family, {})
        clash = next((k for k, v in given.items() if k in earlier and earlier[k] != v), None)
        if clash is not None:
            raise UsageError(f"metric {family!r}: option {clash!r} given twice with different values "
                             f"({earlier[clash]!r}, {given[clash]!r}); one metric family has one configuration")
        earlier.update(given)
        prev = requests.get(family)
        if prev is not None:
            merged_only = None if prev.only is None or only is None else tuple(dict.fromkeys(prev.only + only))
            requests[family] = MetricRequest(family, {**prev.options, **options}, merged_only)
        else:
            requests[family] = MetricRequest(family, options, only)
    if not requests:
        raise UsageError("no metrics given")
    return list(requests.values())


def _family_of_output(output: str, families: Sequence[str]) -> str:
    """The family that outputs ``output`` (classes are looked at, not built: no extra needed)."""
    for family in families:
        try:
            cls = metric_class(family)
        except UsageError:
            continue  # a plug-in that does not load is not the one asked for
        if output in cls().outputs():
            return family
    known = sorted(f for f in families if not is_object_ref(f))
    raise UsageError(f"unknown metric {output!r}; known metrics: {', '.join(known)} (or one of their outputs, "
                     "or package.module:Class)")
