"""The committed dashboards are the generator's output, valid against
Grafana's dashboard schema, and pass a lint:
the datasource and instance variables, a unit and a description on every
panel, unique titles and refIds, rate()/increase() over $__rate_interval,
PromQL that parses, no deprecated panel types."""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from services.monitoring import dashboards
from services.monitoring.panels import DASHBOARD_DIR, committed, resolve, targets
from tests.support.dashboards import selectors

MODELS = committed()
# Grafana 11.6's Dashboard type as a JSON Schema (scripts/dashboard_schema.sh).
SCHEMA = DASHBOARD_DIR.parent / "schema" / "dashboard.schema.json"
DEPRECATED = {"graph", "singlestat", "table-old", "grafana-piechart-panel"}


def test_committed_json_is_what_the_generator_writes(tmp_path: Path) -> None:
    dashboards.main([str(tmp_path)])
    generated = {p.name: p.read_text() for p in sorted(tmp_path.glob("*.json"))}
    assert generated.keys() == MODELS.keys()
    for name, text in generated.items():
        assert (DASHBOARD_DIR / name).read_text() == text, f"{name} is stale: run `make dashboards`"


def test_there_is_an_overview_and_one_dashboard_per_service() -> None:
    assert set(MODELS) == {
        "overview.json",
        "binding.json",
        "auth.json",
        "menu.json",
        "provision.json",
        "kamailio.json",
    }


@pytest.mark.parametrize("name", sorted(MODELS))
def test_dashboard_matches_grafanas_schema(name: str) -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(MODELS[name])]
    assert not errors, "\n".join(errors)
    # The schema has teeth: a panel placed by a string is refused.
    broken = MODELS[name] | {"panels": [MODELS[name]["panels"][0] | {"gridPos": "top"}]}
    assert not validator.is_valid(broken)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_dashboard_lint(name: str) -> None:
    model: dict[str, Any] = MODELS[name]
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["datasource"]["uid"] == "${datasource}"
    titles = [p["title"] for p in model["panels"]]
    assert len(titles) == len(set(titles)), "panel titles repeat"
    for panel in model["panels"]:
        where = f"{name} / {panel['title']}"
        assert panel["type"] not in DEPRECATED, where
        assert panel["type"] in {"timeseries", "stat"}, where
        assert panel["datasource"]["uid"] == "${datasource}", where
        assert panel["description"], where
        assert panel["fieldConfig"]["defaults"].get("unit"), where
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert ref_ids and all(ref_ids) and len(ref_ids) == len(set(ref_ids)), where
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", where
    for target in targets(name, model):
        for _, window in re.findall(r"\b(rate|increase)\([^\[]*\[([^\]]*)\]", target.expr):
            assert window == "$__rate_interval", target
        found = selectors(resolve(target.expr, ["127.0.0.1:9"]))
        assert found, target
        assert all('instance=~"' in s for s in found), target
