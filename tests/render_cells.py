"""Read the leaderboard cells back from each renderer's output (terminal, report.md, report.html),
for tests that assert which cells are marked best / worse."""

from __future__ import annotations

import re


def table_cells(text: str, header_word: str) -> dict[str, dict[str, str]]:
    """Rich table text -> system -> column (its first header word) -> cell (first line of each row).

    A leaderboard too wide for the console is printed as several tables, each with the system
    column: their columns are merged, starting from the first table whose header has ``header_word``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("┏") and header_word in "".join(lines[i:i + 4]))
    rows: dict[str, dict[str, str]] = {}
    i = start
    while i < len(lines) and lines[i].startswith("┏"):
        j = i + 1
        header = []
        while lines[j].startswith("┃"):
            header.append([c.strip() for c in lines[j].strip("┃").split("┃")])
            j += 1
        names = [" ".join(part[k] for part in header if part[k]).split(" ")[0] for k in range(len(header[0]))]
        while not lines[j].startswith("└"):
            if lines[j].startswith("│"):
                cells = [c.strip() for c in lines[j].strip("│").split("│")]
                if cells[0]:
                    rows.setdefault(cells[0], {}).update(zip(names, cells))
            j += 1
        i = j + 1
    return rows


def md_cells(text: str) -> dict[str, dict[str, str]]:
    """The report.md leaderboard -> system -> column -> cell."""
    lines = text.split("## Leaderboard", 1)[1].strip().splitlines()
    names = [c.strip() for c in lines[0].strip("|").split(" | ")]
    rows = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        rows[cells[0]] = dict(zip(names, cells))
    return rows


def html_cells(page: str) -> dict[str, list[str]]:
    """The HTML headline leaderboard -> system -> its metric cells (HTML of each <td>)."""
    board = page.split('id="board"', 1)[1].split("</table>", 1)[0]
    out = {}
    for system, row in re.findall(r'<th scope="row" data-v="([^"]*)">(.*?)</tr>', board, re.S):
        out[system] = re.findall(r"<td class=\"num[^\"]*\".*?</td>", row, re.S)
    return out
