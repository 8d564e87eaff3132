"""The committed Grafana dashboards, read back, and a check that every panel
of a dashboard has data in a running Prometheus.

``python -m services.monitoring.panels [--prometheus URL] [--dashboard
overview] [--minutes 15]`` prints each panel query with whether it returned
data over the last minutes, and exits 1 if any returned none: after the
README's walk-through against ``make run``'s Prometheus, or after a
deployment against your own.
"""

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.monitoring.prometheus_api import PrometheusAPI

DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "monitoring" / "dashboards"


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
    if not match:
        raise ValueError(f"unexpected $instance query: {variable['query']}")
    return match.group(1)


def resolve(expr: str, instances: list[str], rate_interval: str = "10s") -> str:
    """``expr`` as Grafana would send it with ``instances`` chosen: ``$instance``
    becomes a regex alternation (backslashes doubled inside the PromQL string),
    ``$__rate_interval`` a fixed range."""
    alternation = "|".join(re.escape(i) for i in instances).replace("\\", "\\\\")
    return expr.replace("$instance", alternation).replace("$__rate_interval", rate_interval)


def resolved(
    prometheus: PrometheusAPI, models: dict[str, dict[str, Any]], rate_interval: str = "10s"
) -> Iterator[tuple[Target, str]]:
    """Every panel target of ``models``, with ``$instance`` set to all the
    instances its variable lists in ``prometheus`` (none: the target is
    yielded unresolvable, as an empty query)."""
    for name, model in models.items():
        metric = instance_query(model)
        instances: list[str] = prometheus.api("label/instance/values", **{"match[]": metric})
        for target in targets(name, model):
            yield target, resolve(target.expr, instances, rate_interval) if instances else ""


def coverage(
    prometheus: PrometheusAPI,
    models: dict[str, dict[str, Any]],
    seconds: int,
    rate_interval: str = "10s",
) -> list[tuple[Target, bool]]:
    """Every panel target, and whether it returned a value over the last
    ``seconds``."""
    return [
        (target, bool(expr) and bool(prometheus.range_values(expr, seconds)))
        for target, expr in resolved(prometheus, models, rate_interval)
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.monitoring.panels")
    parser.add_argument("--prometheus", default="http://127.0.0.1:9095")
    parser.add_argument("--dashboard", default="overview", help="file name without .json")
    parser.add_argument("--minutes", type=int, default=15)
    parser.add_argument("--rate-interval", default="1m", help="for $__rate_interval")
    args = parser.parse_args(argv)
    models = {k: v for k, v in committed().items() if k == f"{args.dashboard}.json"}
    if not models:
        parser.error(f"no dashboard {args.dashboard}.json in {DASHBOARD_DIR}")
    prometheus = PrometheusAPI(args.prometheus)
    checked = coverage(prometheus, models, args.minutes * 60, args.rate_interval)
    for target, has_data in checked:
        print(f"{'data   ' if has_data else 'NO DATA'}  {target.panel} [{target.ref_id}]")
    empty = sum(1 for _, has_data in checked if not has_data)
    print(f"{empty} of {len(checked)} panel queries returned no data", file=sys.stderr)
    return 1 if empty else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
