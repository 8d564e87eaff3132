"""A local Prometheus (Debian's package) scraping the edge: its
configuration and command line, shared by `make run` and the tests."""

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

# The project's alert and recording rules (their unit tests sit beside them).
RULES = tuple(
    sorted(
        p
        for p in (Path(__file__).resolve().parents[2] / "deploy" / "monitoring" / "rules").glob(
            "*.yml"
        )
        if not p.name.endswith(".test.yml")
    )
)


def scrape_config(targets: Mapping[str, Sequence[str]], interval: str = "5s") -> str:
    """prometheus.yml scraping ``targets`` (job -> ``host:port`` of each
    /metrics; the job names are the ones the rules select on) every
    ``interval``, evaluating the project's rules."""
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in RULES],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(addresses)}]}
            for job, addresses in targets.items()
        ],
    }
    text: str = yaml.safe_dump(config, sort_keys=False)
    return text


def prometheus_argv(config: Path, data_dir: Path, listen: str) -> list[str]:
    """Prometheus on ``listen`` (``host:port``) with ``config``, its TSDB in
    ``data_dir``."""
    return [
        shutil.which("prometheus") or "/usr/bin/prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address={listen}",
        "--log.level=warn",
    ]
