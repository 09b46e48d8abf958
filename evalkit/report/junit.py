"""JUnit XML for the gate: one testcase per check (rule × system × bound), so CI systems
(GitHub Actions test reporters, GitLab, Jenkins) list every rule and show failures with numbers.

Every text placed in the XML goes through ``xml_safe``: characters XML 1.0 forbids (``\x01``,
ESC, lone surrogates...) in a system name or an error message are written as visible escapes,
so the file is always well-formed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.fsutil import atomic_path
from evalkit.report.textsafe import xml_safe

if TYPE_CHECKING:
    from evalkit.gate import GateReport


def gate_junit(report: GateReport) -> ET.ElementTree:
    c = report.counts
    attrs = {"tests": str(len(report.checks)), "failures": str(c["fail"]), "errors": "0", "skipped": str(c["n/a"])}
    root = ET.Element("testsuites", {"name": "evalkit gate", **attrs})
    suite = ET.SubElement(root, "testsuite", {"name": xml_safe(f"evalkit gate {report.run_id}"), **attrs})
    props = ET.SubElement(suite, "properties")
    for name, value in (("run_id", report.run_id), ("gold", report.gold.name), ("gold_hash", report.gold.hash),
                        ("baseline", report.baseline or ""), ("correction", report.correction or ""),
                        ("scope", report.scope or "")):
        ET.SubElement(props, "property", {"name": name, "value": xml_safe(value)})
    for ch in report.checks:
        case = ET.SubElement(suite, "testcase", {"classname": xml_safe(f"evalkit.gate.{ch.system}"),
                                                 "name": xml_safe(f"rule {ch.rule}: {ch.label} [{ch.system}]")})
        if ch.status == "fail":
            failure = ET.SubElement(case, "failure", {"message": xml_safe(ch.message), "type": ch.kind})
            failure.text = xml_safe("\n".join(f"{k}: {v}" for k, v in ch.model_dump(mode="json").items() if v is not None))
        elif ch.status == "n/a":
            ET.SubElement(case, "skipped", {"message": xml_safe(ch.message)})
        else:
            ET.SubElement(case, "system-out").text = xml_safe(ch.message)
    ET.indent(root)
    return ET.ElementTree(root)


def write_gate_junit(report: GateReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        gate_junit(report).write(tmp, encoding="utf-8", xml_declaration=True)
    return path
