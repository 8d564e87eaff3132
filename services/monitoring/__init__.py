"""Monitoring as code: the Grafana dashboards of the edge."""
