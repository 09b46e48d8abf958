"""Running on part of a gold set: the first N items, a seeded random sample, or one shard of N.

Every such run records a :class:`~evalkit.records.GoldSelection` in its manifest: the hash and
size of the FULL gold set, how the part was chosen, and the ids of the items it holds. That is
what lets a later stage treat the part for what it is:

* ``--resume`` and ``score --run`` rebuild exactly the same items from the full gold file;
* ``evalkit merge`` checks that shards partition one gold set (same full hash, every item once);
* ``gate`` and ``compare`` against a run on the full set compare on the items both have.

Selections are pure functions of the gold set's content and the request, never of the order
of the file:

* **limit N** — the first N items in file order (the one order-dependent choice, as asked);
* **sample N, seed S** — the N items with the smallest sha256(S, id): a seeded random subset
  that does not depend on the item order, and nested (sample 10 ⊂ sample 20 for one seed);
* **shard I/N** — items sorted by (article length descending, sha256 of the id) are dealt
  greedily to the shard with the least text so far (longest-processing-time first), so the
  shards are balanced by article length, the same for every system, and independent of the
  item order. Shards are numbered 0..N-1.

The items of a part keep the gold file's order.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Sequence
from typing import Literal, Optional

from evalkit.errors import UsageError
from evalkit.records import GoldRef, GoldSelection, GoldSet, MergedShard

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` → (I, N) with 0 <= I < N."""
    m = _SHARD.match(text)
    if not m:
        raise UsageError(f"--shard {text!r}: use I/N, e.g. --shard 0/4 (shards are numbered 0..N-1)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or index >= count:
        raise UsageError(f"--shard {text!r}: I must be in 0..N-1 and N at least 1")
    return index, count


def _id_key(seed: int | str, item_id: str) -> str:
    return hashlib.sha256(f"{seed}\x00{item_id}".encode()).hexdigest()


def shard_ids(gold: GoldSet, count: int) -> list[list[str]]:
    """The item ids of each of ``count`` shards (balanced by article length, order-independent)."""
    order = sorted(gold.items, key=lambda it: (-len(it.article), _id_key("shard", it.id)))
    heap = [(0, i) for i in range(count)]  # (characters so far, shard index)
    shards: list[list[str]] = [[] for _ in range(count)]
    for item in order:
        load, i = heapq.heappop(heap)
        shards[i].append(item.id)
        heapq.heappush(heap, (load + len(item.article), i))
    return shards


def select(gold: GoldSet, *, limit: Optional[int] = None, sample: Optional[int] = None,
           seed: int = 0, shard: Optional[str] = None) -> tuple[GoldSet, Optional[GoldSelection]]:
    """The part of ``gold`` a run uses and its record (None: the whole set)."""
    given = [name for name, v in (("--limit", limit), ("--sample", sample), ("--shard", shard)) if v is not None]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)} cannot be combined: choose one way to take part of the gold set")
    if not given:
        return gold, None
    ids: list[str]
    method: Literal["limit", "sample", "shard"]
    shard_index = shard_count = None
    if limit is not None:
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        ids = [it.id for it in gold.items[:limit]]
        method = "limit"
    elif sample is not None:
        if sample < 1:
            raise UsageError("--sample must be at least 1")
        ids = sorted((it.id for it in gold.items), key=lambda i: _id_key(seed, i))[:sample]
        method = "sample"
    else:
        assert shard is not None
        shard_index, shard_count = parse_shard(shard)
        ids = shard_ids(gold, shard_count)[shard_index]
        method = "shard"
    selection = GoldSelection(method=method, full_hash=gold.hash, full_items=len(gold.items),
                              limit=limit, sample=sample, seed=seed if sample is not None else None,
                              shard_index=shard_index, shard_count=shard_count, item_ids=[])
    part = take(gold, ids)
    selection.item_ids = [it.id for it in part.items]
    return part, selection


def take(gold: GoldSet, ids: list[str]) -> GoldSet:
    """The items of ``gold`` whose id is in ``ids``, in the gold file's order."""
    wanted = set(ids)
    return GoldSet(name=gold.name, source=gold.source, items=[it for it in gold.items if it.id in wanted])


def reselect(gold: GoldSet, selection: Optional[GoldSelection], *, limit: Optional[int] = None) -> GoldSet:
    """The same part of the same gold set again (``--resume``, ``score --run``).

    ``gold`` is the full set as loaded now; it must still have the recorded full hash (the
    caller checks the part's hash against the run's identity). Manifests written before
    selections were recorded carry only ``limit``.
    """
    if selection is None:
        if limit is None:
            return gold
        return GoldSet(name=gold.name, source=gold.source, items=gold.items[:limit])
    if gold.hash != selection.full_hash:
        raise UsageError(f"gold set {gold.source} changed since the run was made "
                         f"({selection.full_hash[:19]}… → {gold.hash[:19]}…); start a new run")
    return take(gold, selection.item_ids)


def describe(selection: Optional[GoldSelection]) -> Optional[str]:
    """One line for reports: "10 of 44 items (seeded sample, seed 0)"; None for a full run."""
    if selection is None:
        return None
    how = {"limit": "the first items", "sample": f"seeded sample, seed {selection.seed}",
           "shard": f"shard {selection.shard_index}/{selection.shard_count}"}[selection.method]
    return f"{len(selection.item_ids)} of {selection.full_items} items ({how})"


def describe_merge(merged_from: Optional[Sequence[MergedShard]]) -> Optional[str]:
    """One line for reports: "merged from 3 shards (0/3, 1/3, 2/3) by evalkit merge"; None for a run made whole."""
    if not merged_from:
        return None
    labels = [f"{s.shard_index}/{s.shard_count}" if s.shard_index is not None else s.run_id for s in merged_from]
    return f"merged from {len(merged_from)} shard{'s' if len(merged_from) != 1 else ''} ({', '.join(labels)}) by evalkit merge"


def full_hash(gold: GoldRef, selection: Optional[GoldSelection]) -> str:
    """The hash of the whole gold set a run (or baseline) was made on, whatever part of it it holds."""
    return selection.full_hash if selection is not None else gold.hash


def subset_scope(gold_a: GoldRef, sel_a: Optional[GoldSelection], gold_b: GoldRef, sel_b: Optional[GoldSelection],
                 *, a: str = "A", b: str = "B") -> Optional[str]:
    """One line for every output when two runs hold different parts of the same gold set
    ("run B holds 10 of 44 items (seeded sample, seed 0): compared on the 10 items both hold");
    None when they hold the same items or come from different gold sets."""
    if gold_a.hash == gold_b.hash or full_hash(gold_a, sel_a) != full_hash(gold_b, sel_b):
        return None
    parts = [f"{who} holds {describe(sel)}" for who, sel in ((a, sel_a), (b, sel_b)) if sel is not None]
    if sel_a is None or sel_b is None:
        return parts[0] + ": compared on those items"
    shared = len(set(sel_a.item_ids) & set(sel_b.item_ids))
    return "; ".join(parts) + f": compared on the {shared} items both hold"
