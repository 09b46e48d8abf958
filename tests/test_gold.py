"""Gold loading and validation: every path (JSONL, JSON, CSV, Parquet, local HF dataset) and
every malformed case gives the file, line/row and field, and exit code 2 through the CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import InputError
from evalkit.gold import load_gold

runner = CliRunner()

ITEMS = [
    {"id": "a1", "title": "One", "article": "First article. It has two sentences.",
     "key_points": ["Label: first point.", "Other: second point."], "meta": {"desk": "local"}},
    {"id": "a2", "article": "Second article text here.", "key_points": ["Only: one point."],
     "summary": "A summary."},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def cli(*args):
    return runner.invoke(app, list(args))


def test_jsonl_loads_and_hash_is_order_independent(tmp_path):
    a = load_gold(write_jsonl(tmp_path / "a.jsonl", ITEMS))
    b = load_gold(write_jsonl(tmp_path / "b.jsonl", ITEMS[::-1]))
    assert [i.id for i in a.items] == ["a1", "a2"]
    assert a.name == "a"
    assert a.hash == b.hash and a.hash.startswith("sha256:")
    changed = [dict(ITEMS[0], article="First article. It has three sentences."), ITEMS[1]]
    assert load_gold(write_jsonl(tmp_path / "c.jsonl", changed)).hash != a.hash


def test_json_list_csv_parquet_give_the_same_gold(tmp_path):
    ref = load_gold(write_jsonl(tmp_path / "g.jsonl", ITEMS))
    (tmp_path / "g.json").write_text(json.dumps(ITEMS), encoding="utf-8")
    rows = [{"id": r["id"], "article": r["article"], "key_points": "\n".join(r["key_points"]),
             "title": r.get("title"), "summary": r.get("summary"),
             "meta": json.dumps(r["meta"]) if "meta" in r else None} for r in ITEMS]
    pd.DataFrame(rows).to_csv(tmp_path / "g.csv", index=False)
    pq_rows = [dict(r) for r in ITEMS]
    for r in pq_rows:
        r.setdefault("title", None)
        r.setdefault("summary", None)
        r["meta"] = json.dumps(r.get("meta", {}))
    pd.DataFrame(pq_rows).to_parquet(tmp_path / "g.parquet", index=False)
    for ext in ("json", "csv", "parquet"):
        assert load_gold(tmp_path / f"g.{ext}").hash == ref.hash, ext


def test_local_hf_dataset_with_field_mapping(tmp_path):
    import datasets  # a runtime dependency: present in every install
    ds = datasets.Dataset.from_dict({
        "id": ["x1", "x2"],
        "article": ["The council met on Monday. It voted to close two libraries.", "Rain fell. Rivers rose."],
        "highlights": ["Council votes to close two libraries .\nVote was on Monday .", "Rivers rose after rain ."],
    })
    datasets.DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "cnndm"))
    gold = load_gold(f"hf:{tmp_path / 'cnndm'}")
    assert [i.key_points for i in gold.items][0] == ["Council votes to close two libraries .", "Vote was on Monday ."]
    # explicit mapping, through the CLI: import to JSONL and validate it
    out = tmp_path / "imported.jsonl"
    res = cli("gold", "import", f"hf:{tmp_path / 'cnndm'}::test", "--to", str(out), "--field", "key_points=highlights")
    assert res.exit_code == 0, res.output
    assert load_gold(out).hash == gold.hash
    bad = cli("gold", "validate", f"hf:{tmp_path / 'cnndm'}", "--field", "key_points=nope")
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output


@pytest.mark.parametrize("content, expected", [
    (b'{"id": "a", "article": "x", "key_points": ["k"]}\n{"id": "b", "article": \n', ["line 2", "invalid JSON"]),
    (b'{"id": "a", "article": "caf\xe9", "key_points": ["k"]}\n', ["line 1", "not UTF-8", "0xe9"]),
    (b'{"id": "a", "key_points": ["k"]}\n', ["line 1", "field 'article'", "missing"]),
    (b'{"id": "a", "article": "x", "key_points": "not a list"}\n', ["line 1", "field 'key_points'", "list"]),
    (b'{"id": "a", "article": 42, "key_points": ["k"]}\n', ["line 1", "field 'article'", "string"]),
    (b'{"id": "a", "article": "   ", "key_points": ["k"]}\n', ["line 1", "field 'article'", "article is empty"]),
    (b'{"id": "a", "article": "x", "key_points": []}\n', ["line 1", "field 'key_points'", "no key points"]),
    (b'{"id": "a", "article": "x", "key_points": ["ok", " "]}\n', ["line 1", "field 'key_points'", "key point 2 is empty"]),
    (b'{"id": "a", "article": "x", "key_points": ["k"]}\n\n{"id": "a", "article": "y", "key_points": ["k"]}\n',
     ["line 3", "field 'id'", "duplicate id 'a'", "first at line 1"]),
    (b'{"id": "a", "article": "x", "key_points": ["k"], "colour": "red"}\n', ["line 1", "field 'colour'", "unknown field"]),
    (b'["not", "an", "object"]\n', ["line 1", "expected a JSON object"]),
    (b"", ["no gold items"]),
    (b"\n\n", ["no gold items"]),
])
def test_malformed_jsonl_is_located_and_exits_2(tmp_path, content, expected):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError) as exc:
        load_gold(path)
    for fragment in expected:
        assert fragment in str(exc.value), (fragment, str(exc.value))
    res = cli("gold", "validate", str(path))
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert str(path) in res.output
    for fragment in expected:
        assert fragment in res.output


def test_malformed_csv_names_the_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('id,article,key_points\na,"Some text.","K: one."\nb,"","K: two."\n', encoding="utf-8")
    res = cli("gold", "validate", str(path))
    assert res.exit_code == 2
    assert "row 3" in res.output and "field 'article'" in res.output


def test_missing_file_and_unknown_type(tmp_path):
    res = cli("gold", "validate", str(tmp_path / "nope.jsonl"))
    assert res.exit_code == 2 and "no such file" in res.output
    (tmp_path / "g.txt").write_text("x", encoding="utf-8")
    res = cli("gold", "validate", str(tmp_path / "g.txt"))
    assert res.exit_code == 2 and "unknown gold file type" in res.output


def test_validate_and_stats_cli(tmp_path):
    path = write_jsonl(tmp_path / "g.jsonl", ITEMS)
    res = cli("gold", "validate", str(path))
    assert res.exit_code == 0 and "2 items" in res.output
    res = cli("gold", "stats", str(path), "--json")
    assert res.exit_code == 0, res.output
    stats = json.loads(res.output)
    assert stats["items"] == 2
    assert stats["key_points_per_item"]["max"] == 2
    assert stats["words_per_article"]["min"] == 4


def test_a_csv_saved_with_crlf_line_ends_is_the_same_gold_set(tmp_path):
    """A CSV saved by Excel (or checked out with git's autocrlf) kept '\\r\\n' inside quoted
    cells: its articles differed and so did its hash, and the gate refused the baseline
    committed from another machine ('gold sets differ'). Fails before this commit."""
    rows = [{"id": "a1", "article": "Line one.\nLine two.", "key_points": "Point one.\nPoint two.", "title": "T"}]
    pd.DataFrame(rows).to_csv(tmp_path / "lf.csv", index=False, lineterminator="\n")
    pd.DataFrame(rows).to_csv(tmp_path / "crlf.csv", index=False, lineterminator="\r\n")
    crlf_cells = (tmp_path / "lf.csv").read_bytes().replace(b"\n", b"\r\n")
    (tmp_path / "crlf2.csv").write_bytes(crlf_cells)  # line ends inside the quoted cells too
    lf = load_gold(tmp_path / "lf.csv")
    assert lf.items[0].article == "Line one.\nLine two."
    for name in ("crlf.csv", "crlf2.csv"):
        crlf = load_gold(tmp_path / name)
        assert crlf.items[0].article == "Line one.\nLine two." and crlf.hash == lf.hash, name
        assert crlf.items[0].key_points == ["Point one.", "Point two."]


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path):
    """Two key_points columns: the first was silently dropped. Fails before this commit."""
    path = tmp_path / "dup.csv"
    path.write_text("id,article,key_points,key_points\na1,Text here.,first point,second point\n", encoding="utf-8")
    res = cli("gold", "validate", str(path))
    assert res.exit_code == 2
    assert f"{path}, row 1, field 'key_points': column 'key_points' appears twice in the header" in res.output


def test_key_points_written_as_a_list_in_a_cell(tmp_path):
    """DataFrame.to_csv of a list column writes "['one', 'two']": it was read as ONE key point
    with its brackets and quotes, and scored so. Fails before this commit."""
    import evalkit

    frame = pd.DataFrame([{"id": "a1", "article": "Text here.", "key_points": ["Point one.", "Point, two."]},
                          {"id": "a2", "article": "More text.", "key_points": ["Only one."]}])
    frame.to_csv(tmp_path / "py.csv", index=False)
    assert "['Point one.', 'Point, two.']" in (tmp_path / "py.csv").read_text()
    (tmp_path / "js.tsv").write_text('id\tarticle\tkey_points\na1\tText here.\t["Point one.", "Point, two."]\n'
                                     'a2\tMore text.\tOnly one.\n', encoding="utf-8")
    for name in ("py.csv", "js.tsv"):
        gold = load_gold(tmp_path / name)
        assert [i.key_points for i in gold.items] == [["Point one.", "Point, two."], ["Only one."]], name
    reread = evalkit.load_gold(pd.read_csv(tmp_path / "py.csv"))
    assert reread.items[0].key_points == ["Point one.", "Point, two."]
    (tmp_path / "bad.csv").write_text('id,article,key_points\na1,Text.,"[\'one\', two]"\n', encoding="utf-8")
    res = cli("gold", "validate", str(tmp_path / "bad.csv"))
    assert res.exit_code == 2 and "row 2, field 'key_points': looks like a list but is not" in res.output
