"""The HTML report without a browser: chart geometry, highlighting, escaping, validity, content.

The run directory comes from ``report_fixtures`` (a real ``evalkit score`` run); the browser
behaviour (sorting, filters, no script running, no network) is in test_report_browser.py.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib
import numpy as np
import pytest
from markupsafe import Markup
from report_fixtures import FAILED, GOLD, PAYLOADS, SUMMARIES, XSS_SYSTEM, shared_report_run
from typer.testing import CliRunner

from evalkit import evaluate, load_run
from evalkit.cli import app
from evalkit.comparisons import load_comparisons
from evalkit.report import charts
from evalkit.report.drilldown import Ref, Span, anchor_for, highlight, keypoint_views, number_views, quote_views
from evalkit.report.html import environment, render_run_html, script_json, significance_matrices
from evalkit.rundir import RunDir


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> RunDir:
    return shared_report_run(tmp_path_factory)


@pytest.fixture(scope="module")
def page(run) -> str:
    return render_run_html(load_run(run.path))


# --------------------------------------------------------------------------------------------
# charts
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,step", [(0.2, 0.2), (0.21, 0.25), (0.3, 0.5), (0.7, 1.0), (3, 5), (12, 20), (0.013, 0.02)])
def test_nice_step(raw, step):
    assert charts.nice_step(raw) == pytest.approx(step)


def test_ticks_cover_the_domain_with_round_values():
    assert charts.ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert charts.ticks(-20.0, 140.0) == [0.0, 50.0, 100.0]
    assert charts.ticks(-50.0, 150.0) == [-50.0, 0.0, 50.0, 100.0, 150.0]
    t = charts.ticks(3.0, 47.0)
    assert t[0] >= 3.0 and t[-1] <= 47.0 and len(t) >= 3, t
    assert all(math.isclose((b - a), (t[1] - t[0])) for a, b in zip(t, t[1:]))


def test_nice_domain():
    assert charts.nice_domain([0.2, 0.9]) == (0.0, 1.0)  # scores in [0, 1]
    lo, hi = charts.nice_domain([12.0, 96.5])  # e.g. summary length in words
    assert lo == 0.0 and hi >= 96.5 and hi < 130
    lo, hi = charts.nice_domain([-0.3, 0.4])  # a difference
    assert lo <= -0.3 and hi >= 0.4
    assert charts.nice_domain([]) == (0.0, 1.0)
    assert charts.nice_domain([5.0, 5.0])[1] > 5.0


@pytest.mark.parametrize("values", [[1.0], [3.0, 1.0], [0.1, 0.5, 0.2, 0.9], list(np.linspace(0, 1, 44) ** 2)])
def test_quartiles_match_numpy(values):
    assert charts.quartiles(values) == pytest.approx(tuple(np.percentile(values, [25, 50, 75])))


def test_scale_maps_ends_and_middle():
    s = charts.Scale(0.0, 2.0, 100.0, 300.0)
    assert (s(0.0), s(1.0), s(2.0)) == (100.0, 200.0, 300.0)
    assert charts.Scale(1.0, 1.0, 0.0, 10.0)(1.0) == 5.0


def test_means_chart_is_wellformed_svg_with_error_bars_where_the_data_says():
    rows = [charts.MeanCI("a", 0.5, 0.4, 0.6, 10), charts.MeanCI("b", None, None, None, 0),
            charts.MeanCI("c", 0.25, 0.25, 0.25, 1)]
    svg = charts.means_chart("rouge1", rows)
    root = ET.fromstring(str(svg))  # well-formed XML
    circles = root.findall(".//{*}circle") or root.findall(".//circle")
    assert len(circles) == 2  # no dot for the system without a mean
    scale = charts.Scale(0.0, 1.0, charts.LABEL_W, charts.WIDTH - charts.PAD_R)
    assert float(circles[0].get("cx")) == pytest.approx(scale(0.5), abs=0.06)
    ci_lines = [el for el in root.iter() if el.get("class") == "ci"]
    xs = {round(float(el.get("x1")), 1) for el in ci_lines}
    assert round(scale(0.4), 1) in xs and round(scale(0.6), 1) in xs
    assert "n/a" in str(svg)


def test_distribution_chart_has_one_linked_dot_per_item():
    pts = [charts.Point(v, f"d{i}", f"#item-d{i}") for i, v in enumerate([0.1, 0.2, 0.4, 0.8])]
    svg = str(charts.distribution_chart("rougeL", [("a", pts), ("b", [])]))
    root = ET.fromstring(svg)
    links = [el for el in root.iter() if el.tag.endswith("a")]
    assert [a.get("href") for a in links] == [f"#item-d{i}" for i in range(4)]
    assert "median 0.3000" in svg  # the box's title carries the quartiles


def test_charts_escape_names():
    evil = '<script>alert(1)</script>"&'
    svg = str(charts.means_chart(evil, [charts.MeanCI(evil, 0.5, 0.4, 0.6, 3)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # still well-formed
    pts = [charts.Point(0.5, evil, '#"><script>')]
    svg = str(charts.distribution_chart(evil, [(evil, pts)]))
    assert "<script>" not in svg
    ET.fromstring(svg)


# --------------------------------------------------------------------------------------------
# highlighting and detail adapters
# --------------------------------------------------------------------------------------------

def test_highlight_cuts_at_every_boundary_and_keeps_the_text():
    text = "He said: all is well, and then left."
    spans = [Span(9, 20, "verbatim", "a Q1: verbatim", Ref("a Q1", "verbatim", "#q1")),
             Span(13, 24, "altered", "b Q1: altered", Ref("b Q1", "altered", "#q2")),
             Span(30, 99, "not_found", "outside the text"), Span(5, 5, "verbatim", "empty")]
    segs = highlight(text, spans)
    assert "".join(s.text for s in segs) == text
    by_text = {s.text: s for s in segs}
    assert by_text["all "].cls == "verbatim"
    overlap = by_text["is well"]
    assert overlap.cls == "altered"  # the more severe verdict wins where spans overlap
    assert overlap.tip == "a Q1: verbatim; b Q1: altered"
    assert [r.label for r in overlap.refs] == ["a Q1"]  # a's span ends here
    assert [r.label for r in by_text[", an"].refs] == ["b Q1"]
    assert all(s.cls == "" for s in segs if s.text.startswith("He said"))
    assert highlight("", []) [0].text == ""


def test_adapters_read_details_and_tolerate_junk():
    q = quote_views({"quotes": [
        {"quote": "all is well", "verdict": "verbatim", "article_start": 3, "article_end": 14},
        {"text": "is fine", "verdict": "altered", "closest": "is well", "similarity": 0.8, "differs": ["fine"],
         "span": [6, 13]},
        {"quote": "made up", "verdict": "not_found"}, "junk"]})
    assert [(x.n, x.verdict, x.words) for x in q] == [(1, "verbatim", "verbatim"), (2, "altered", "altered"),
                                                       (3, "not_found", "not found")]
    assert q[0].article_spans == [(3, 14)] and q[1].article_spans == [(6, 13)] and q[2].article_spans == []
    assert q[1].differs == "fine" and q[1].similarity == 0.8
    n = number_views({"numbers": [{"text": "5.25%", "supported": False}, {"text": "11", "supported": True}, 3]})
    assert [(x.text, x.supported) for x in n] == [("5.25%", False), ("11", True)]
    k = keypoint_views({"key_points": [{"key_point": "A", "covered": True, "similarity": 0.9, "best_sentence": "a."}]})
    assert k[0].covered and k[0].best_sentence == "a."
    assert quote_views({}) == [] and number_views({"numbers": None}) == [] and keypoint_views({}) == []


def test_anchors_are_unique_and_safe():
    taken: set[str] = set()
    a = [anchor_for(g, i, taken) for i, g in enumerate(["x/1", "x 1", "politics-01", 'e"><b>'])]
    assert a[0] == "item-x_1" and a[1] == "item-x_1-1" and a[2] == "item-politics-01"
    assert len(set(a)) == 4 and all(re.fullmatch(r"[A-Za-z0-9_-]+", x) for x in a)


# --------------------------------------------------------------------------------------------
# escaping
# --------------------------------------------------------------------------------------------

def test_environment_autoescapes_even_for_j2_templates():
    env = environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


def test_script_json_cannot_close_the_script_and_round_trips():
    data = {"a": "</script><script>alert(1)</script>", "b": "<!-- x -->", "c": "&amp;\u2028\u2029", "d": [1.5, None]}
    text = str(script_json(data))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == data
    assert isinstance(script_json(data), Markup)
    with pytest.raises(ValueError):
        script_json({"x": float("nan")})  # would not be valid JSON for JSON.parse


def test_templates_never_mark_data_safe():
    templates = Path(__file__).resolve().parents[1] / "evalkit" / "report" / "templates"
    for t in templates.iterdir():
        text = t.read_text(encoding="utf-8")
        assert "|safe" not in text.replace(" ", "") and "Markup(" not in text, t.name
        assert "autoescape false" not in text, t.name


def _tree(page: str):
    return html5lib.parse(page, namespaceHTMLElements=False)


def _text(el, skip=("sup",)) -> str:
    """The text of an element as a reader sees it, without the quote labels (<sup>)."""
    out = [el.text or ""]
    for child in el:
        if child.tag not in skip:
            out.append(_text(child, skip))
        out.append(child.tail or "")
    return "".join(out)


def test_payloads_from_model_and_gold_are_escaped(page):
    for p in PAYLOADS + [XSS_SYSTEM, FAILED[2]]:
        if any(ch in p for ch in "<>\"'&"):
            assert p not in page, p  # never verbatim markup
    tree = _tree(page)
    elements = list(tree.iter())
    assert [e.get("type") for e in elements if e.tag == "script"] == ["application/json", None]
    ours = set(tree.find(".//form[@id='filters']").iter())  # the filter controls
    assert not [e.tag for e in elements if e.tag in ("img", "iframe", "input", "textarea", "object", "embed",
                                                      "base", "link", "body") and e is not tree.find("body")
                and e not in ours]
    assert all(e.get("http-equiv") is None for e in elements if e.tag == "meta")
    assert len([e for e in elements if e.tag == "style"]) == 1
    handlers = [(e.tag, k) for e in elements for k in e.attrib if k.lower().startswith("on")]
    assert handlers == []
    # the XSS system's summary of econ-01 reads exactly as written: every payload is visible text
    card = next(c for c in tree.iter("article") if _text(c.find("h4")).strip() == XSS_SYSTEM
                and c.find("div") is not None and "Bank raised rates" in _text(c.find("div")))
    assert _text(card.find("div")) == SUMMARIES[XSS_SYSTEM]["econ-01"]
    titles = [_text(e) for e in tree.iter("span") if e.get("class") == "item-title"]
    assert GOLD[1]["title"] in titles  # "Talks <b>collapse</b> & ..." shown as text
    assert any(FAILED[2] in _text(e) for e in tree.iter("code"))  # the error message too


def test_no_external_reference(page):
    url_attrs = ("src", "href", "action", "formaction", "srcset", "poster", "data", "xlink:href", "background",
                 "ping", "manifest", "cite", "longdesc")
    refs = [(e.tag, k, v) for e in _tree(page).iter() for k, v in e.attrib.items() if k.lower() in url_attrs]
    assert refs and all(v.startswith("#") for _, _, v in refs), [r for r in refs if not r[2].startswith("#")]
    assert "http://" not in page and "https://" not in page  # not even a namespace URL
    for needle in ("@import", "url(", "@font-face", "<link", "<base", "<img", "<iframe"):
        assert needle not in page.lower(), needle


# --------------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------------

def test_html5_strict_parse_without_errors(page):
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(page)
    assert parser.errors == []


def test_overview_shows_gold_systems_metrics_and_versions(run, page):
    man = run.read_manifest()
    for text in (man.gold.name, man.gold.hash, f"{man.gold.items} items", man.created, man.evalkit_version,
                 *(f"{k} <code>{v}</code>" for k, v in man.versions.items())):
        assert text in page, text
    for m in man.metrics:
        assert f'<th scope="row">{m.name}</th>' in page
        for key in m.config:
            assert f"&#34;{key}&#34;" in page  # the config is shown (JSON, escaped)
    for s in ("faithful", "sloppy", "fails"):
        assert f"</span>{s}</th><td><code>external</code>" in page


def test_leaderboard_marks_the_best_and_counts_errors(run, page):
    summary = run.read_summary()
    board = page.split('id="board"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>\s*<th scope=\"row\" data-v=\"([^\"]*)\">.*?</tr>", board, re.S)
    assert len(rows) == 4
    best = max(summary.systems, key=lambda s: summary.systems[s].metrics["rouge1"].mean)
    best_row = re.search(rf'data-v="{re.escape(best)}">.*?</tr>', board, re.S).group(0)
    first_cell = re.search(r'<td class="num( best)?" data-v="([^"]+)"', best_row)
    assert first_cell.group(1) == " best" and float(first_cell.group(2)) == summary.systems[best].metrics["rouge1"].mean
    st = summary.systems[best].metrics["rouge1"]
    assert f"[{st.ci_low:.3f}, {st.ci_high:.3f}]" in best_row
    fails_row = re.search(r'data-v="fails">.*?</tr>', board, re.S).group(0)
    assert '<td class="num bad" data-v="1">1</td>' in fails_row and "2/3" in fails_row
    assert "backend error: &lt;img" in page.split('id="leaderboard"', 1)[1].split("</section>", 1)[0]


def test_significance_matrix_matches_comparisons_json_and_states_holm(run, page):
    comps, note = load_comparisons(run)
    assert note is None and comps.min_items == 2  # the stored file, made with the config's [stats] min_items
    systems = list(run.read_summary().systems)
    mx = next(m for m in significance_matrices(comps, systems) if m["metric"] == "rouge1")
    grid = dict(mx["grid"])
    c = comps.get("rouge1").pair("faithful", "sloppy")
    assert (c.system_a, c.system_b) == ("faithful", "sloppy")
    assert grid["sloppy"][0]["delta"] == pytest.approx(c.delta)  # row sloppy − column faithful = B − A
    assert grid["faithful"][1]["delta"] == pytest.approx(-c.delta)
    assert grid["faithful"][1]["p"] == c.p_adjusted and grid["faithful"][0] is None
    assert "Holm across the 6 system pairs of rouge1 with at least 2 shared items" in page
    assert f"{-c.delta:+.3f}" in page


def test_drilldown_shows_quotes_numbers_and_failures(run, page):
    assert page.count('<details class="item"') == len(GOLD)
    econ = page.split('id="item-econ-01"', 1)[1].split("</details>\n", 1)[0]
    assert "Governor Ilse Marr said" in econ
    assert '<mark class="verbatim"' in econ  # the faithful quote found in the article
    world = page.split('id="item-world_02_', 1)[1].split("</details>\n", 1)[0]
    assert "Failed: <code>backend error: &lt;img" in world


def test_missing_gold_file_still_renders(run, tmp_path):
    copy = tmp_path / "moved"
    shutil.copytree(run.path, copy)
    data = json.loads((copy / "manifest.json").read_text())
    data["gold"]["source"] = str(tmp_path / "nowhere.jsonl")
    (copy / "manifest.json").write_text(json.dumps(data))
    page = render_run_html(load_run(copy))
    assert "Articles are not shown: the gold set could not be loaded" in page
    assert page.count('<details class="item"') == len(GOLD)  # summaries and scores still there
    html5lib.HTMLParser(strict=True).parse(page)


def test_report_command_writes_html(run, page, tmp_path):
    target = tmp_path / "out.html"
    res = CliRunner().invoke(app, ["report", str(run.path), "--html", str(target)])
    assert res.exit_code == 0, res.output
    assert target.read_text(encoding="utf-8") == page
    res = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "not a run directory" in res.output


def test_score_writes_the_same_report(run, page):
    """`evalkit score` wrote report.html through write_reports; rendering again gives the same bytes."""
    assert run.report_html.read_text(encoding="utf-8") == page


@pytest.mark.slow
def test_shipped_gold_with_four_systems_stays_under_3_mb(tmp_path):
    """The issue's size budget, measured on the real thing: 44 articles × 4 baselines, every
    metric that writes details (quotes, numbers, key points) plus ROUGE and extractiveness."""
    outcome = evaluate(None, ["lead", "textrank", "lexrank", "oracle"],
                       metrics="rouge,quotes,numbers,keypoints,extractiveness", out=tmp_path / "run")
    html = outcome.path / "report.html"
    size = html.stat().st_size
    assert outcome.manifest.gold.items == 44 and len(outcome.summary.systems) == 4
    page = html.read_text(encoding="utf-8")
    assert page.count('<details class="item"') == 44
    assert size < 3_000_000, f"report.html is {size / 1e6:.2f} MB"
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(page)
    assert parser.errors == []
