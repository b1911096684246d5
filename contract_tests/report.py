"""What a contract run found, and the two forms it is written in: JUnit XML and Markdown.

One ``Outcome`` per tested thing: an operation under schemathesis (all its checks), or
one named domain check. A failed outcome carries ``Finding``s, each naming the check,
what went wrong and how to reproduce it, so a CI log alone is enough to act on.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass
class Finding:
    check: str
    title: str
    message: str
    reproduce: str = ""

    def key(self) -> tuple[str, str]:
        # One finding per check and kind of failure: the 50th 500 of an operation adds
        # nothing the first one did not say.
        return (self.check, self.title)


@dataclass
class Outcome:
    suite: str  # "bc", "thinq", "callbacks", ...
    name: str  # "GET /v1/devices", "control_shows_in_status", ...
    kind: str  # "schemathesis" | "domain" | "callback"
    status: Status = Status.PASSED
    cases: int = 0
    duration: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    note: str = ""
    checks: set[str] = field(default_factory=set)

    def fail(self, finding: Finding) -> None:
        if all(existing.key() != finding.key() for existing in self.findings):
            self.findings.append(finding)
        self.status = Status.FAILED


@dataclass
class Report:
    title: str
    outcomes: list[Outcome] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    duration: float = 0.0
    notes: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        return outcome

    def finish(self) -> Report:
        self.duration = time.monotonic() - self.started
        return self

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status is status)

    @property
    def ok(self) -> bool:
        return not any(o.status in (Status.FAILED, Status.ERROR) for o in self.outcomes)

    def headline(self) -> str:
        verdict = "PASSED" if self.ok else "FAILED"
        parts = [f"{self.count(status)} {status.value}" for status in Status if self.count(status)]
        return f"{verdict}: {', '.join(parts) or 'nothing ran'} in {self.duration:.1f} s"

    # ------------------------------------------------------------------ Markdown
    def markdown(self) -> str:
        lines = [f"# {self.title}", "", f"**{self.headline()}**", ""]
        lines += [f"> {note}" for note in self.notes]
        if self.notes:
            lines.append("")
        lines += [
            "| API | Tested | Kind | Cases | Result | Detail |",
            "| --- | --- | --- | ---: | --- | --- |",
        ]
        for outcome in self.outcomes:
            detail = outcome.note or "; ".join(
                f"{f.check}: {f.title if outcome.kind == 'schemathesis' else f.message}"
                for f in outcome.findings[:3]
            )
            if len(outcome.findings) > 3:
                detail += f"; and {len(outcome.findings) - 3} more"
            lines.append(
                f"| {outcome.suite} | `{_cell(outcome.name)}` | {outcome.kind} | "
                f"{outcome.cases} | {_mark(outcome.status)} | {_cell(detail)} |"
            )
        failed = [o for o in self.outcomes if o.findings and o.status is not Status.PASSED]
        if failed:
            lines += ["", "## Failures"]
            for outcome in failed:
                for finding in outcome.findings:
                    lines += [
                        "",
                        f"### {outcome.suite} `{outcome.name}`: {finding.check}",
                        "",
                        f"**{finding.title}**",
                        "",
                        "```",
                        finding.message.strip() or "(no detail)",
                        "```",
                    ]
                    if finding.reproduce:
                        lines += ["", "Reproduce:", "", "```", finding.reproduce.strip(), "```"]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ JUnit XML
    def junit_xml(self) -> str:
        root = ET.Element("testsuites", name=self.title, time=f"{self.duration:.3f}")
        for suite_name, outcomes in _by_suite(self.outcomes).items():
            suite = ET.SubElement(
                root,
                "testsuite",
                name=f"lgmock.contract.{suite_name}",
                tests=str(len(outcomes)),
                failures=str(sum(o.status is Status.FAILED for o in outcomes)),
                errors=str(sum(o.status is Status.ERROR for o in outcomes)),
                skipped=str(sum(o.status is Status.SKIPPED for o in outcomes)),
                time=f"{sum(o.duration for o in outcomes):.3f}",
            )
            for outcome in outcomes:
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=f"lgmock.contract.{suite_name}.{outcome.kind}",
                    name=outcome.name,
                    time=f"{outcome.duration:.3f}",
                )
                if outcome.status is Status.SKIPPED:
                    ET.SubElement(case, "skipped", message=outcome.note)
                tag = "error" if outcome.status is Status.ERROR else "failure"
                if outcome.status in (Status.FAILED, Status.ERROR):
                    for finding in outcome.findings or [Finding(tag, outcome.note, "")]:
                        element = ET.SubElement(
                            case, tag, type=finding.check, message=finding.title
                        )
                        element.text = "\n\n".join(
                            part for part in (finding.message, finding.reproduce) if part
                        )
                if outcome.cases or outcome.note:
                    out = ET.SubElement(case, "system-out")
                    out.text = f"{outcome.cases} cases. {outcome.note}".strip()
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

    def write(self, *, junit_xml: Path | None = None, summary: Path | None = None) -> None:
        if junit_xml is not None:
            junit_xml.parent.mkdir(parents=True, exist_ok=True)
            junit_xml.write_text(self.junit_xml(), encoding="utf-8")
        if summary is not None:
            summary.parent.mkdir(parents=True, exist_ok=True)
            summary.write_text(self.markdown(), encoding="utf-8")


def _by_suite(outcomes: Iterable[Outcome]) -> dict[str, list[Outcome]]:
    grouped: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.suite, []).append(outcome)
    return grouped


def _mark(status: Status) -> str:
    return {
        Status.PASSED: "passed",
        Status.FAILED: "**FAILED**",
        Status.SKIPPED: "skipped",
        Status.ERROR: "**ERROR**",
    }[status]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:300]
