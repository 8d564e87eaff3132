# hotdesk-edge: the two commands are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap run dashboards cluster test lint unit images bench soak clean

bootstrap:
	@scripts/bootstrap.sh

run: bootstrap
	$(PY) -m services.devstack

# Regenerate the Grafana dashboards' JSON (deploy/monitoring/dashboards) from
# services/monitoring/dashboards.py; a test keeps the committed files equal.
dashboards: bootstrap
	$(PY) -m services.monitoring.dashboards deploy/monitoring/dashboards

cluster: bootstrap
	$(PY) -m services.devstack.cluster

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Two pytest-xdist workers, each running whole test files (a file's module
# fixtures, e.g. its edge, are set up once). Every test starts its own
# processes on its own ports (tests/support/ports.py: a share of the range
# per worker), so files run side by side. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2

unit: bootstrap
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: lint unit

# Both container images (hotdesk-edge, hotdesk-edge-kamailio) with podman.
images: bootstrap
	@scripts/images.sh

bench: bootstrap
	$(PY) -m bench $(BENCH_ARGS)

soak: bootstrap
	$(PY) -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) gen .run .mypy_cache .ruff_cache .pytest_cache .hypothesis
