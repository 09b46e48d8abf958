"""Metrics: the base class, the registry, and the built-in families (one module each)."""

from evalkit.metrics.base import ItemScore, Metric, MetricConfig, Pair, ScoringContext
from evalkit.metrics.registry import (
    DEFAULT_METRICS,
    MetricRequest,
    available_metrics,
    build_metric,
    metric_class,
    parse_metrics,
)

__all__ = [
    "DEFAULT_METRICS", "ItemScore", "Metric", "MetricConfig", "MetricRequest", "Pair", "ScoringContext",
    "available_metrics", "build_metric", "metric_class", "parse_metrics",
]
