"""The Prometheus rules (deploy/monitoring/rules): promtool accepts every
rule file and passes every unit-test file beside it; every alert carries a
severity, a `for:` and a runbook link that resolves in docs/runbooks.md,
and its unit tests show it both firing and staying quiet."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
RULES = ROOT / "deploy" / "monitoring" / "rules"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
RULE_FILES = sorted(RULES.glob("*.rules.yml"))
TEST_FILES = sorted(RULES.glob("*.test.yml"))
SEVERITIES = {"critical", "warning", "info"}


def _promtool(*args: str, cwd: Path = RULES) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: make bootstrap installs Debian's prometheus"
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def _alerts() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces
    to hyphens."""
    headings = re.findall(r"^#+ +(.+?) *$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


ALERTS = _alerts()


def test_every_rule_file_has_its_tests_beside_it() -> None:
    assert RULE_FILES
    assert {p.name for p in TEST_FILES} == {
        p.name[: -len(".yml")] + ".test.yml" for p in RULE_FILES
    }


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_checks_and_lints_the_rules(path: Path) -> None:
    done = _promtool("check", "rules", "--lint=all", "--lint-fatal", path.name)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(path: Path) -> None:
    done = _promtool("test", "rules", path.name)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: str(a["alert"]))
def test_every_alert_has_severity_for_and_runbook(alert: dict[str, Any]) -> None:
    assert alert.get("labels", {}).get("severity") in SEVERITIES
    assert re.fullmatch(r"\d+[smh]", str(alert.get("for", ""))), "a `for:` duration"
    annotations = alert.get("annotations", {})
    assert annotations.get("summary") and annotations.get("description")
    page, _, anchor = annotations.get("runbook_url", "").partition("#")
    assert page == "docs/runbooks.md"
    assert anchor in _anchors(RUNBOOKS.read_text()), f"no section #{anchor} in {page}"


def _cases() -> dict[str, set[bool]]:
    """Alert name -> whether its unit tests expect it firing (True), quiet
    (False), or both."""
    cases: dict[str, set[bool]] = {}
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], set()).add(bool(case.get("exp_alerts")))
    return cases


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = _cases()
    names = {a["alert"] for a in ALERTS}
    # promtool passes a quiet case for a misspelt alert name: none may exist.
    assert set(cases) <= names, set(cases) - names
    missing = {name: cases.get(name, set()) for name in names if cases.get(name) != {True, False}}
    assert not missing, f"alerts without a firing and a quiet case: {missing}"


def test_a_wrong_threshold_or_expression_fails(tmp_path: Path) -> None:
    """The checks above can fail: a copy with a threshold the unit tests do
    not expect, and one with a broken expression."""
    (source,) = [p for p in RULE_FILES if "HotdeskLookupsFailing" in p.read_text()]
    text = source.read_text()
    for path in TEST_FILES:
        shutil.copy(path, tmp_path)
    threshold = "hotdesk:lookup_error_ratio:rate5m > 0.05"
    assert threshold in text
    (tmp_path / source.name).write_text(text.replace(threshold, threshold.replace("0.05", "2")))
    done = _promtool("test", "rules", f"{source.stem}.test.yml", cwd=tmp_path)
    assert done.returncode == 1
    assert "HotdeskLookupsFailing" in done.stdout + done.stderr
    (tmp_path / source.name).write_text(text.replace(threshold, "rate(" + threshold))
    done = _promtool("check", "rules", "--lint=all", "--lint-fatal", source.name, cwd=tmp_path)
    assert done.returncode == 1
