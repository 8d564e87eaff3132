"""Writes deploy/k8s/base/prometheus-rule.yaml, the PrometheusRule that
carries deploy/monitoring/rules/hotdesk.rules.yml into a cluster with the
Prometheus Operator: ``python -m services.devstack.prometheus_rule`` after
changing the rules (tests/test_deploy.py fails until the two agree)."""

from pathlib import Path

import yaml

from services.devstack.stack import ROOT

RULES = ROOT / "deploy" / "monitoring" / "rules" / "hotdesk.rules.yml"
TARGET = ROOT / "deploy" / "k8s" / "base" / "prometheus-rule.yaml"
HEADER = """\
# Generated from deploy/monitoring/rules/hotdesk.rules.yml by
# `python -m services.devstack.prometheus_rule`: edit the rule file (and its
# tests beside it), then regenerate this one.
"""


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL) as literal blocks, as in the rule file."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    )


_Dumper.add_representer(str, _string)


def render(rules: Path = RULES) -> str:
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "hotdesk-edge",
            "labels": {"app.kubernetes.io/part-of": "hotdesk-edge"},
        },
        "spec": yaml.safe_load(rules.read_text()),
    }
    return HEADER + yaml.dump(rule, Dumper=_Dumper, sort_keys=False, width=100)


def main() -> None:
    TARGET.write_text(render())


if __name__ == "__main__":
    main()
