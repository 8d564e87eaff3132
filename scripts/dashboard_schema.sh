#!/usr/bin/env bash
# Regenerate deploy/monitoring/schema/dashboard.schema.json: Grafana's
# dashboard model as a JSON Schema, for tests/monitoring/test_dashboards.py.
# @grafana/schema (npm) holds the model as TypeScript types only;
# ts-json-schema-generator turns its Dashboard type into a JSON Schema.
# Lenient (--additional-properties): grafana-foundation-sdk writes a few
# fields the type leaves out. Needs node and npm; `make test` does not.
set -euo pipefail
cd "$(dirname "$0")/.."

GRAFANA_SCHEMA=11.6.0 # the Grafana the dashboards target (pyproject's SDK pin)
GENERATOR=2.4.0
OUT=deploy/monitoring/schema/dashboard.schema.json

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm install --no-audit --no-fund --silent \
    "@grafana/schema@$GRAFANA_SCHEMA" "ts-json-schema-generator@$GENERATOR")
"$work/node_modules/.bin/ts-json-schema-generator" \
    --path "$work/node_modules/@grafana/schema/dist/esm/raw/dashboard/x/dashboard_types.gen.d.ts" \
    --type Dashboard --no-type-check --additional-properties >"$OUT"
echo "wrote $OUT"
