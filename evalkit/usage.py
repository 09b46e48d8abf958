"""Usage and cost: what each system's calls consumed, computed once in the stats stage.

Per system, from its rows in ``predictions.jsonl``:

* **tokens** — the sums of ``usage.prompt_tokens`` and ``usage.completion_tokens`` as the
  server reported them (``openai``) or the model's own tokenizer counted them
  (``transformers``), over the rows that report them (``rows_with_usage``); backends that call
  no model (``lead``, ``command``...) report none and show "—", never 0;
* **latency** — the 50th and 95th percentiles (linear interpolation, numpy's default) of
  ``latency_s`` over the rows that returned a summary. A cached row carries the latency of the
  call that made it, so a cached re-run reports what the calls took, not the cache lookups;
* **cost** — each row's tokens priced by ``[prices]`` of ``evalkit.toml`` (US dollars per
  million tokens), looked up under the model name the server reported, else the system's
  configured ``model`` option (a server answering ``gpt-4o-mini-2024-07-18`` for
  ``gpt-4o-mini`` is priced as ``gpt-4o-mini``). Cached rows are priced at the usage recorded
  when they were made, so the cost of a run does not depend on what the cache held. A model
  with tokens but no price leaves the system's cost unknown (``unpriced`` names it) rather
  than counting it as free; so do rows that returned a summary without token counts beside
  rows with them (cached by an evalkit that kept no usage, or a server that omitted it): the
  sum would be a lower bound.

The entries of the price table used are recorded in ``summary.json`` (``prices``), so a cost
can be checked against the prices it was computed with. Latencies are measured, not computed:
they are the one part of ``summary.json`` that differs between two runs of the same inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Optional

from evalkit.records import Prediction, Price, RunSummary, SystemSpec, SystemUsage

#: what gate rules may bound besides the metrics (``[[gate.rule]] metric = "cost_usd"``, ``max = 0.5``)
USAGE_METRICS = ("cost_usd", "latency_p50", "latency_p95", "prompt_tokens", "completion_tokens", "total_tokens")
TOKEN_METRICS = ("prompt_tokens", "completion_tokens", "total_tokens")
_ROUND_COST = 10
_ROUND_LATENCY = 6


def usage_value(usage: Optional[SystemUsage], name: str) -> Optional[float]:
    """The value of a usage pseudo-metric (one of ``USAGE_METRICS``) for a system; None: not known."""
    if usage is None:
        return None
    value = usage.total_tokens if name == "total_tokens" else getattr(usage, name)
    return None if value is None else float(value)


def _percentile(values: Sequence[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    value = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)  # numpy.percentile's "linear"
    return round(value, _ROUND_LATENCY)


def _configured_model(spec: Optional[SystemSpec]) -> Optional[str]:
    model = spec.options.get("model") if spec is not None else None
    return model if isinstance(model, str) and model else None


def system_usage(rows: Sequence[Prediction], spec: Optional[SystemSpec],
                 prices: Mapping[str, Price]) -> tuple[SystemUsage, set[str]]:
    """One system's usage, and the price-table entries it was priced with."""
    ok = [p for p in rows if p.ok]
    latencies = [float(p.latency_s) for p in ok if p.latency_s is not None and math.isfinite(p.latency_s)]
    configured = _configured_model(spec)
    prompt = completion = counted = 0
    cost = 0.0
    models: dict[str, None] = {}
    unpriced: dict[str, None] = {}
    used: set[str] = set()
    for p in rows:
        u = p.usage
        if u is None or (u.prompt_tokens is None and u.completion_tokens is None):
            continue
        counted += 1
        pt, ct = u.prompt_tokens or 0, u.completion_tokens or 0
        prompt += pt
        completion += ct
        name = p.model if p.model in prices else configured if configured in prices else None
        if not prices:  # no price table: tokens only, no cost (and nothing is "unpriced")
            models[p.model or configured or "(model not reported)"] = None
            continue
        if name is None:
            missing = p.model or configured or "(model not reported)"
            models[missing] = None
            unpriced[missing] = None
            continue
        models[name] = None
        used.add(name)
        price = prices[name]
        cost += (pt * price.input + ct * price.output) / 1e6
    has_tokens = counted > 0
    # a row that returned a summary without token counts (cached by an evalkit that kept no usage,
    # or a server that left it out) makes the sum a lower bound: the cost is unknown, not less
    partial = 0 < counted < len(ok)  # as usage_gap reads it back from the summary
    return SystemUsage(
        rows=len(ok), rows_with_usage=counted,
        prompt_tokens=prompt if has_tokens else None, completion_tokens=completion if has_tokens else None,
        latency_p50=_percentile(latencies, 50), latency_p95=_percentile(latencies, 95),
        cost_usd=round(cost, _ROUND_COST) if has_tokens and not unpriced and prices and not partial else None,
        models=sorted(models), unpriced=sorted(unpriced)), used


def add_usage(summary: RunSummary, predictions: Sequence[Prediction], systems: Sequence[SystemSpec],
              prices: Optional[Mapping[str, Price]] = None) -> RunSummary:
    """``summary`` with each system's usage and the price-table entries used (set in place, returned)."""
    prices = dict(prices or {})
    specs = {s.name: s for s in systems}
    by_system: dict[str, list[Prediction]] = {}
    for p in predictions:
        by_system.setdefault(p.system, []).append(p)
    used: set[str] = set()
    for name, ss in summary.systems.items():
        ss.usage, names = system_usage(by_system.get(name, []), specs.get(name), prices)
        used |= names
    summary.prices = {k: prices[k] for k in sorted(used)}
    return summary


# --------------------------------------------------------------------------------------------
# formatting shared by the renderers
# --------------------------------------------------------------------------------------------

def fmt_tokens(n: Optional[int]) -> str:
    return "—" if n is None else f"{n:,}"


def fmt_latency(s: Optional[float]) -> str:
    """``0.2 ms``, ``41 ms``, ``1.35 s``; "—" when unknown."""
    if s is None:
        return "—"
    if s < 0.001:
        return f"{s * 1000:.2f} ms"
    if s < 1:
        return f"{s * 1000:.0f} ms" if s >= 0.01 else f"{s * 1000:.1f} ms"
    return f"{s:.2f} s"


def fmt_cost(usage: Optional[SystemUsage]) -> str:
    """``$0.0123``; "no price for M" when a model is not in the table; "—" without tokens."""
    if usage is None or usage.rows_with_usage == 0:
        return "—"
    if usage.cost_usd is None:
        if usage.unpriced:
            return f"no price for {', '.join(usage.unpriced)}"
        missing = usage_gap(usage)
        return f"unknown: {missing} rows without token counts" if missing else "no [prices]"
    c = usage.cost_usd
    return f"${c:.4f}" if c < 1 else f"${c:,.2f}"


def usage_gap(usage: SystemUsage) -> int:
    """How many rows that returned a summary have no token counts while others have (0: none,
    or none has): such a system's cost is unknown."""
    return usage.rows - usage.rows_with_usage if 0 < usage.rows_with_usage < usage.rows else 0


def fmt_usage(metric: str, value: Optional[float]) -> str:
    """A usage pseudo-metric's value for a gate message: ``$0.0123``, ``1.35 s``, ``12,345 tokens``."""
    if value is None:
        return "unknown"
    if metric == "cost_usd":
        return f"${value:.6g}"
    if metric.startswith("latency"):
        return f"{value:g} s"
    return f"{value:,.0f} tokens"


def has_usage(summary: RunSummary) -> bool:
    """Whether any system has tokens or latencies to show (none: runs written before usage was
    kept, or predictions scored from a file that records neither)."""
    return any(s.usage is not None and (s.usage.rows_with_usage or s.usage.latency_p50 is not None)
               for s in summary.systems.values())
