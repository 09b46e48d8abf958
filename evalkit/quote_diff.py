"""What an altered quotation changed, word by word: ``“database” → “system”``, ``“very”
inserted``, ``“in the database” dropped``.

The quotation's words are aligned with the article's words around the closest span (a
semi-global alignment: every quotation word is placed, the article span may start and end
anywhere in the region), so that a changed last word is named as a substitution rather than
read as a word the quotation added, and the span reported is the one the quotation stands for.
Costs: a shared word −1 (so the alignment covers every word the quotation shares with the
article); a changed word 1, or ¼ when the two spellings are alike (rapidfuzz ratio ≥ 50:
``I`` / ``I'm``, ``win`` / ``won``); a run of inserted or dropped words 1 plus ¼ per word after
the first (affine gaps, Gotoh 1982: three words left out are one omission, not three
changes). Among alignments of equal cost the one with fewer inserted and dropped words wins
(a substitution is one edit, not two), then the one with more shared words.
"""

from __future__ import annotations

from collections.abc import Sequence

#: quotations longer than this many words are compared with their window as found (no alignment)
MAX_ALIGN_WORDS = 300

Op = tuple[str, int, int, int, int]  # (tag, quote_start, quote_end, article_start, article_end)


def _change_cost(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    if a == b:
        return 0.0
    return 0.25 if fuzz.ratio(a.casefold(), b.casefold()) >= 50 else 1.0


def align(quote: Sequence[str], article: Sequence[str]) -> tuple[int, int, list[Op]]:
    """Align every word of ``quote`` with a stretch ``article[a0:a1]``; return (a0, a1, ops),
    ops being runs tagged ``equal``, ``changed``, ``inserted`` (quotation words the article
    lacks) or ``dropped`` (article words the quotation leaves out)."""
    n, m = len(quote), len(article)
    inf: Cell = (float("inf"), 0, 0)
    # three layers (Gotoh): the last step was a pair of words (0), an inserted quotation word
    # (1) or a dropped article word (2); cost[layer][i][j] = (cost, indels, -shared words) of
    # aligning quote[:i] with an article stretch ending at j, compared in that order
    cost = [[[inf] * (m + 1) for _ in range(n + 1)] for _ in range(3)]
    back = [[[0] * (m + 1) for _ in range(n + 1)] for _ in range(3)]
    for j in range(m + 1):
        cost[0][0][j] = (0.0, 0, 0)  # the article stretch may start anywhere
    for i in range(1, n + 1):
        cost[1][i][0], back[1][i][0] = (GAP_OPEN + GAP_EXTEND * (i - 1), i, 0), (1 if i > 1 else 0)
        q = quote[i - 1]
        for j in range(1, m + 1):
            c, layer = _best([cost[k][i - 1][j - 1] for k in range(3)])
            a = article[j - 1]
            step = -MATCH_REWARD if q == a else _change_cost(q, a)
            cost[0][i][j], back[0][i][j] = (c[0] + step, c[1], c[2] - (q == a)), layer
            cost[1][i][j], back[1][i][j] = _gap(cost, 1, i - 1, j)
            cost[2][i][j], back[2][i][j] = _gap(cost, 2, i, j - 1)
    end, layer = min(((j, k) for j in range(m + 1) for k in (0, 1)), key=lambda jk: (cost[jk[1]][n][jk[0]], jk[0]))
    steps: list[str] = []
    i, j = n, end
    while i > 0:
        prev = back[layer][i][j]
        if layer == 0:
            steps.append("equal" if quote[i - 1] == article[j - 1] else "changed")
            i, j = i - 1, j - 1
        elif layer == 1:
            steps.append("inserted")
            i -= 1
        else:
            steps.append("dropped")
            j -= 1
        layer = prev
    steps.reverse()
    return j, end, _runs(steps, j)


GAP_OPEN, GAP_EXTEND, MATCH_REWARD = 1.0, 0.25, 1.0
Cell = tuple[float, int, int]


def _best(cells: list[Cell]) -> tuple[Cell, int]:
    k = min(range(len(cells)), key=lambda x: cells[x])
    return cells[k], k


def _gap(cost: list[list[list[Cell]]], layer: int, i: int, j: int) -> tuple[Cell, int]:
    """Open a gap from a pair of words (or the other gap), or extend one of this kind."""
    options = []
    for k, extra in ((0, GAP_OPEN), (layer, GAP_EXTEND), (3 - layer, GAP_OPEN)):
        c = cost[k][i][j]
        options.append(((c[0] + extra, c[1] + 1, c[2]), k))
    return min(options)


def _runs(steps: list[str], start: int) -> list[Op]:
    ops: list[Op] = []
    qpos, apos = 0, start
    for tag in steps:
        dq = 0 if tag == "dropped" else 1
        da = 0 if tag == "inserted" else 1
        if ops and ops[-1][0] == tag:
            t, q0, q1, a0, a1 = ops[-1]
            ops[-1] = (t, q0, q1 + dq, a0, a1 + da)
        else:
            ops.append((tag, qpos, qpos + dq, apos, apos + da))
        qpos += dq
        apos += da
    return ops


def differences(quote: Sequence[str], article: Sequence[str], ops: Sequence[Op]) -> list[dict[str, str]]:
    """Runs of differing words as ``{"op", "quote", "article"}``; neighbouring edits of
    different kinds are one run (``changed`` when both sides have words)."""
    out: list[dict[str, str]] = []
    run: list[Op] = []
    for op in [*ops, None]:
        if op is not None and op[0] != "equal":
            run.append(op)
            continue
        if run:
            q = " ".join(quote[run[0][1]:run[-1][2]])
            a = " ".join(article[run[0][3]:run[-1][4]])
            out.append({"op": "changed" if q and a else ("inserted" if q else "dropped"), "quote": q, "article": a})
            run = []
    return out


def describe(diffs: Sequence[dict[str, str]]) -> str | None:
    """The differences in one line: ``“database” → “system”; “very” inserted; “in it” dropped``
    (a change reads article word → quotation word)."""
    parts = []
    for d in diffs:
        if d["op"] == "changed":
            parts.append(f"“{d['article']}” → “{d['quote']}”")
        elif d["op"] == "inserted":
            parts.append(f"“{d['quote']}” inserted")
        else:
            parts.append(f"“{d['article']}” dropped")
    return "; ".join(parts) or None
