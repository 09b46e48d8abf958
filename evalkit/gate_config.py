"""The ``[gate]`` table of ``evalkit.toml``: its rules, validated (see evalkit/gate.py for what they mean).

Errors name the file and the rule (``gate.rule[2].max_drop``), with a close match for an
unknown key.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evalkit.errors import InputError, UsageError
from evalkit.usage import USAGE_METRICS

#: pseudo-metrics computed from the prediction counts, not from scores
COUNT_METRICS = ("errors", "error_rate")
#: every pseudo-metric: bounded with min / max only (no max_drop, no not_worse_than)
PSEUDO_METRICS = COUNT_METRICS + USAGE_METRICS
#: the bounds a rule may set on a value
Bound = Literal["min", "max"]
BOUNDS: tuple[Bound, ...] = ("min", "max")
Status = Literal["pass", "fail", "n/a"]
EPS = 1e-12  # a value equal to its threshold up to float noise passes


class GateRule(BaseModel):
    """One ``[[gate.rule]]``: a metric and its bounds (min, max, max_drop, not_worse_than)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    metric: str = Field(min_length=1)
    min: Optional[float] = None
    max: Optional[float] = None
    max_drop: Optional[float] = Field(default=None, ge=0)
    not_worse_than: Optional[str] = Field(default=None, min_length=1)
    systems: Optional[list[str]] = None
    significance: Optional[float] = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> GateRule:
        if self.min is None and self.max is None and self.max_drop is None and self.not_worse_than is None:
            raise ValueError("give at least one of min, max, max_drop, not_worse_than")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.metric in PSEUDO_METRICS and self.max_drop is not None:
            raise ValueError(f"max_drop does not apply to {self.metric!r}; use max")
        if self.metric in PSEUDO_METRICS and self.not_worse_than is not None:
            raise ValueError(f"not_worse_than does not apply to {self.metric!r}; use max")
        return self


class GateConfig(BaseModel):
    """The ``[gate]`` table: rules (``[[gate.rule]]``), the baseline file, the significance level, the systems judged."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    baseline: Optional[str] = None
    significance: Optional[float] = Field(default=None, gt=0, lt=1)
    systems: Optional[list[str]] = None
    rule: list[GateRule] = Field(min_length=1)


def parse_gate(raw: dict[str, Any], source: Optional[str] = None) -> GateConfig:
    """Validate a ``[gate]`` table; errors name the file and the rule (``gate.rule[2].max_drop``)."""
    where = source or "evalkit.toml"
    if not raw:
        raise UsageError(f"no [gate] rules in {where}: add [[gate.rule]] tables (see docs/ci.md)")
    try:
        return GateConfig.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = list(err["loc"])
        field, rule_txt, prev = "gate", "", None
        for part in loc:
            if isinstance(part, int):
                field += f"[{part + 1}]"
                if prev == "rule":  # 1-based rule number, with its metric for orientation
                    rules = raw.get("rule")
                    entry = rules[part] if isinstance(rules, list) and part < len(rules) else None
                    metric = entry.get("metric") if isinstance(entry, dict) else None
                    rule_txt = f"rule {part + 1} (metric {metric!r}): " if metric else f"rule {part + 1}: "
            else:
                field += f".{part}"
            prev = part
        if err["type"] == "extra_forbidden":
            known = list(GateRule.model_fields if rule_txt else GateConfig.model_fields)
            close = difflib.get_close_matches(str(loc[-1]), list(known), n=1)
            msg = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})")
        elif loc == ["rule"] and err["type"] == "missing":
            msg = "no [[gate.rule]] tables"
        elif loc == ["rule"] and err["type"] == "list_type":
            msg = "rules are an array of tables: write [[gate.rule]] (double brackets)"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        raise InputError(rule_txt + msg, path=where, field=field) from None
