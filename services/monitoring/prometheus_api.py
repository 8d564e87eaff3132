"""A Prometheus server's HTTP API (``/api/v1``), read-only, standard library
only: for the panel check and the tests."""

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class PrometheusAPI:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def api(self, path: str, **params: str | list[str]) -> Any:
        """``/api/v1/<path>``'s ``data``; list values repeat the parameter."""
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{path} {params}: {exc.read().decode()}") from None
        assert body["status"] == "success", body
        return body["data"]

    def range_values(self, expr: str, seconds: int = 60) -> list[float]:
        """Every value ``expr`` took over the last ``seconds`` (1 s steps),
        NaN left out."""
        end = time.time()
        data = self.api("query_range", query=expr, start=str(end - seconds), end=str(end), step="1")
        values = (float(v) for series in data["result"] for _, v in series["values"])
        return [v for v in values if not math.isnan(v)]

    def series(self, selector: str) -> list[dict[str, str]]:
        found: list[dict[str, str]] = self.api("series", **{"match[]": selector})
        return found
