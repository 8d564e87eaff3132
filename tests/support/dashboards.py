"""The committed Grafana dashboards, read back: their panel queries and the
metric selectors inside them."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser

from services.monitoring.dashboards import DASHBOARD_DIR


@dataclass(frozen=True)
class Target:
    dashboard: str  # the file name
    panel: str  # the panel title
    ref_id: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}: {self.expr}"


def committed() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model, for every committed dashboard."""
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def targets(name: str, model: dict[str, Any]) -> Iterator[Target]:
    for panel in model["panels"]:
        for t in panel["targets"]:
            yield Target(name, panel["title"], t["refId"], t["expr"])


def instance_query(model: dict[str, Any]) -> str:
    """The metric ``$instance`` lists the instances of (its
    ``label_values(<metric>, instance)`` query)."""
    (variable,) = (v for v in model["templating"]["list"] if v["name"] == "instance")
    match = re.fullmatch(r"label_values\((\w+), instance\)", variable["query"])
    assert match, variable["query"]
    return match.group(1)


def resolve(expr: str, instances: list[str], rate_interval: str = "10s") -> str:
    """``expr`` as Grafana would send it with ``instances`` chosen: ``$instance``
    becomes a regex alternation (backslashes doubled inside the PromQL string),
    ``$__rate_interval`` a fixed range."""
    alternation = "|".join(re.escape(i) for i in instances).replace("\\", "\\\\")
    return expr.replace("$instance", alternation).replace("$__rate_interval", rate_interval)


def selectors(expr: str) -> list[str]:
    """Every vector selector of ``expr`` (a resolved query), as PromQL."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            # The parser prints label values unescaped: escape them again.
            found.append(str(node).replace("\\", "\\\\"))
        elif isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(node, promql_parser.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(
            node,
            promql_parser.AggregateExpr
            | promql_parser.ParenExpr
            | promql_parser.UnaryExpr
            | promql_parser.SubqueryExpr,
        ):
            walk(node.expr)

    walk(promql_parser.parse(expr))
    return found
