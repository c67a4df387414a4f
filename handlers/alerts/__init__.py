"""Alert webhook glue: Alertmanager, Grafana and warroom's own JSON, each checked and
translated into the core's `AlertBatch`. No database, no outbound calls: the routes hand
the batch to the core."""

from __future__ import annotations

from handlers.alerts.auth import AlertCredentials, credentials_for
from handlers.alerts.intake import read_alert, request_schema

__all__ = ["AlertCredentials", "credentials_for", "read_alert", "request_schema"]
