"""Whether shard runs belong together (``evalkit merge``): every refusal is one line naming the
difference (a ``UsageError``: exit 2), and nothing is written before all checks pass.

Shards belong together when they are complete runs of the same evalkit version over parts
of the same gold set (the full hash their selections record), with the same seed, the
same systems under the same identity digests (options, prompts, files, models), the same
output cap and the same metric specs (configuration and directions), and when their parts
partition the gold set: shard numbers 0..N-1 each exactly once, or, for other parts, item
sets that are disjoint and together hold every item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from evalkit.errors import EvalkitError, UsageError
from evalkit.gold import load_gold
from evalkit.identity import identity_changes
from evalkit.records import GoldSet, ItemDetail, Manifest, Prediction, RunSummary
from evalkit.rundir import RunDir


@dataclass
class Shard:
    """One run given to ``evalkit merge``: ``label`` is its path as the user wrote it."""

    label: str
    rundir: RunDir
    manifest: Manifest
    summary: RunSummary

    @property
    def ids(self) -> list[str]:
        """The gold item ids the run holds (None selection: the whole set, taken from the gold file)."""
        sel = self.manifest.selection
        return list(sel.item_ids) if sel is not None else list(self._full_ids or [])

    _full_ids: Optional[list[str]] = None

    @property
    def full_hash(self) -> str:
        sel = self.manifest.selection
        assert self.manifest.identity is not None
        return sel.full_hash if sel is not None else self.manifest.identity.gold_hash

    @property
    def part(self) -> str:
        sel = self.manifest.selection
        if sel is None:
            return "the whole gold set"
        if sel.method == "shard":
            return f"shard {sel.shard_index}/{sel.shard_count}"
        return f"{len(sel.item_ids)} items ({sel.method})"

    @cached_property
    def rows(self) -> dict[tuple[str, str], Prediction]:
        return {(p.system, p.gold_id): p for p in self.rundir.read_predictions(self.manifest)}

    @property
    def ok_rows(self) -> list[Prediction]:
        return [p for p in self.rows.values() if p.ok]

    @cached_property
    def scores(self) -> pd.DataFrame:
        return self.rundir.read_scores()

    @cached_property
    def details(self) -> list[ItemDetail]:
        return self.rundir.read_details()


def fail(message: str) -> UsageError:
    return UsageError(f"cannot merge: {message}")


def load_shards(paths: Sequence[Path]) -> list[Shard]:
    """The runs to merge, complete and recording their identity; in shard order when all are shards."""
    if not paths:
        raise fail("name the shard run directories to merge (evalkit merge SHARD_DIR... --out DIR)")
    shards: list[Shard] = []
    seen: dict[Path, str] = {}
    for path in paths:
        label = str(path)
        resolved = Path(path).resolve()
        if resolved in seen:
            raise fail(f"{label} is given twice (as {seen[resolved]} too)")
        seen[resolved] = label
        try:
            rundir = RunDir.open(path)
            manifest = rundir.read_manifest()
            summary = rundir.read_summary()
        except EvalkitError as e:
            raise fail(str(e)) from None
        if manifest.kind != "run":
            raise fail(f"{label} holds predictions scored by `evalkit score`, not a run of systems")
        if manifest.identity is None:
            raise fail(f"{label} was written by an evalkit that did not record the run's identity; run it again")
        shards.append(Shard(label, rundir, manifest, summary))
    if all(s.manifest.selection is not None and s.manifest.selection.method == "shard" for s in shards):
        shards.sort(key=lambda s: (s.manifest.selection.shard_index or 0) if s.manifest.selection else 0)
    return shards


def check_together(shards: Sequence[Shard]) -> None:
    """Everything that needs no gold file: versions, gold hash, seed, systems, metrics, shard numbers."""
    first = shards[0]
    for other in shards[1:]:
        a, b = first.manifest, other.manifest
        pair = f"{first.label} and {other.label}"
        if a.evalkit_version != b.evalkit_version:
            raise fail(f"{pair} were made by different evalkit versions ({a.evalkit_version} vs {b.evalkit_version})")
        if first.full_hash != other.full_hash:
            raise fail(f"{pair} were run on different gold sets ({a.gold.name} {first.full_hash[:19]}… vs "
                       f"{b.gold.name} {other.full_hash[:19]}…)")
        if a.seed != b.seed:
            raise fail(f"{pair} were run with different seeds ({a.seed} vs {b.seed})")
        _same_systems(a, b, pair)
        _same_metrics(a, b, pair)
    _shard_numbers(shards)


def _same_systems(a: Manifest, b: Manifest, pair: str) -> None:
    assert a.identity is not None and b.identity is not None
    names_a, names_b = [s.name for s in a.identity.systems], [s.name for s in b.identity.systems]
    if names_a != names_b:
        raise fail(f"{pair} ran different systems ({', '.join(names_a)} vs {', '.join(names_b)})")
    for sa, sb in zip(a.identity.systems, b.identity.systems):
        if sa.digest != sb.digest:
            raise fail(f"system {sa.name!r} is configured differently in {pair} "
                       f"({_changes(sa.identity, sb.identity)})")
    if a.identity.max_output_chars != b.identity.max_output_chars:
        raise fail(f"{pair} cap outputs differently (max_output_chars {a.identity.max_output_chars} vs "
                   f"{b.identity.max_output_chars})")


def _same_metrics(a: Manifest, b: Manifest, pair: str) -> None:
    names_a, names_b = [m.name for m in a.metrics], [m.name for m in b.metrics]
    if names_a != names_b:
        raise fail(f"{pair} scored different metrics ({', '.join(names_a)} vs {', '.join(names_b)})")
    for ma, mb in zip(a.metrics, b.metrics):
        if ma != mb:
            raise fail(f"metric {ma.name!r} is configured differently in {pair} "
                       f"({_changes(ma.model_dump(mode='json'), mb.model_dump(mode='json'))})")


def _changes(old: Any, new: Any) -> str:
    """``options.k: 3 vs 2`` for the first differences between two identities."""
    shown = []
    paths = identity_changes(old, new)
    for path in paths[:3]:
        va, vb = _at(old, path), _at(new, path)
        shown.append(path if va is _MISSING or vb is _MISSING else f"{path}: {_short(va)} vs {_short(vb)}")
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return "; ".join(shown) + more if shown else "identity"


_MISSING = object()


def _at(tree: Any, path: str) -> Any:
    """The value at a dotted path (keys may hold dots: the longest key that fits wins)."""
    node, rest = tree, path
    while rest:
        if not isinstance(node, dict):
            return _MISSING
        key = next((k for k in sorted(map(str, node), key=len, reverse=True)
                    if rest == k or rest.startswith(k + ".")), None)
        if key is None:
            return _MISSING
        node, rest = node[key], rest[len(key) + 1:]
    return node


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _shard_numbers(shards: Sequence[Shard]) -> None:
    sels = [s.manifest.selection for s in shards]
    if not all(sel is not None and sel.method == "shard" for sel in sels):
        return  # other parts: their item sets must partition the gold set (check_partition)
    counts = [sel.shard_count if sel is not None else None for sel in sels]
    if len(set(counts)) > 1:
        a, b = shards[0], shards[next(i for i, c in enumerate(counts) if c != counts[0])]
        raise fail(f"{a.label} is {a.part} but {b.label} is {b.part}: the shards of one run are I/N with one N")
    count = counts[0] or 0
    by_index: dict[int, Shard] = {}
    for shard in shards:
        sel = shard.manifest.selection
        assert sel is not None and sel.shard_index is not None
        if sel.shard_index in by_index:
            raise fail(f"shard {sel.shard_index}/{count} is given twice ({by_index[sel.shard_index].label} and "
                       f"{shard.label})")
        by_index[sel.shard_index] = shard
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        which = ", ".join(f"{i}/{count}" for i in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise fail(f"shard{'s' if len(missing) > 1 else ''} {which} missing (given: "
                   f"{', '.join(f'{i}/{count}' for i in sorted(by_index))})")


def load_full_gold(shards: Sequence[Shard], path: Optional[str]) -> GoldSet:
    """The whole gold set the shards were taken from (its hash checked), after checking the
    shards' item sets partition it."""
    source = path or shards[0].manifest.gold.source
    try:
        gold = load_gold(source)
    except EvalkitError as e:
        raise fail(f"the gold set the shards were run on cannot be loaded ({e}); pass it with --gold PATH") from None
    if gold.hash != shards[0].full_hash:
        raise fail(f"gold file {source} is not the gold set the shards were run on ({gold.hash[:19]}… vs "
                   f"{shards[0].full_hash[:19]}…){'' if path else '; pass that file with --gold PATH'}")
    check_partition(shards, gold)
    return gold


def check_partition(shards: Sequence[Shard], gold: GoldSet) -> None:
    every = [it.id for it in gold.items]
    owner: dict[str, Shard] = {}
    for shard in shards:
        if shard.manifest.selection is None:
            shard._full_ids = every
        for item_id in shard.ids:
            if item_id in owner:
                raise fail(f"item {item_id!r} is in both {owner[item_id].label} and {shard.label}: the shards "
                           f"overlap (they must partition the gold set)")
            owner[item_id] = shard
    known = set(every)
    stray = [i for i in owner if i not in known]
    if stray:
        raise fail(f"item {stray[0]!r} of {owner[stray[0]].label} is not in gold set {gold.name!r}")
    missing = [i for i in every if i not in owner]
    if missing:
        raise fail(f"{len(missing)} of the {len(every)} items of gold set {gold.name!r} are in no shard (e.g. "
                   f"{missing[0]!r}): a shard is missing")


def check_rows(shard: Shard) -> dict[tuple[str, str], Prediction]:
    """The shard's rows, one per (system, item) of its part (a complete run has them all)."""
    rows = shard.rows
    for spec in shard.manifest.systems:
        for item_id in shard.ids:
            if (spec.name, item_id) not in rows:
                raise fail(f"{shard.label} has no row for system {spec.name!r}, item {item_id!r}; finish it with "
                           f"evalkit run --resume {shard.label}")
    return rows
