"""Paging through httpx: PagerDuty Events API v2 and a signed generic webhook.

Pages are outbox deliveries in their own lane, so they are retried like chat effects
(429 and 5xx, honouring Retry-After) and survive restarts; a 4xx is the receiver saying
no for good and is not retried. The incident key is the dedup key, so a trigger, its
acknowledgement and its resolution all land on the same PagerDuty incident.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from typing import Any

import httpx

from bot.errors import DeliveryError
from bot.incidents.status import incident_key
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import Delivery, Incident

ACTIONS = ("trigger", "acknowledge", "resolve")
# PagerDuty's four severities, by the incident's rank in the policy's ladder.
PD_SEVERITIES = ("critical", "error", "warning", "info")
SIGNATURE_HEADER = "X-Warroom-Signature"
TIMESTAMP_HEADER = "X-Warroom-Timestamp"


def pd_severity(policy: Policy, severity: str) -> str:
    names = policy.severity_names()
    rank = names.index(severity) if severity in names else len(PD_SEVERITIES) - 1
    return PD_SEVERITIES[min(rank, len(PD_SEVERITIES) - 1)]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `timestamp.body`, as receivers verify it."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class Pager:
    def __init__(
        self,
        *,
        db: Database,
        policy: Policy,
        client: httpx.AsyncClient,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._db = db
        self._policy = policy
        self._client = client
        self._environ = environ

    async def page(self, delivery: Delivery) -> None:
        incident = await self._db.transaction(
            lambda session: session.get(Incident, delivery.incident_id)
        )
        if incident is None:
            raise DeliveryError(
                "incident_missing", retryable=False, detail=str(delivery.incident_id)
            )
        action = str(delivery.payload["action"])
        target: dict[str, Any] = delivery.payload["target"]
        level = str(delivery.payload.get("level", ""))
        if "pagerduty" in target:
            await self._pagerduty(incident, action, target["pagerduty"], level)
        elif "webhook" in target:
            await self._webhook(incident, action, target["webhook"], level)
        else:
            raise DeliveryError("unknown_pager_target", retryable=False, detail=repr(target))

    def _secret(self, name: str) -> str:
        value = self._environ.get(name)
        if not value:
            # Retried, not dropped: the page goes out once the variable is set.
            raise DeliveryError("pager_secret_missing", detail=f"{name} is not set")
        return value

    async def _pagerduty(
        self, incident: Incident, action: str, target: Mapping[str, Any], level: str
    ) -> None:
        key = incident_key(incident.number)
        body: dict[str, Any] = {
            "routing_key": self._secret(str(target["routing_key_env"])),
            "event_action": action,
            "dedup_key": key,
        }
        if action == "trigger":
            body["payload"] = {
                "summary": f"[{incident.severity}] {key}: {incident.title}"[:1024],
                "source": "warroom",
                "severity": pd_severity(self._policy, incident.severity),
                "custom_details": {"escalation_level": level, "status": incident.status.label},
            }
        url = self._policy.pagerduty_url.rstrip("/") + "/v2/enqueue"
        await self._send(url, json.dumps(body).encode(), {})

    async def _webhook(
        self, incident: Incident, action: str, target: Mapping[str, Any], level: str
    ) -> None:
        body = json.dumps(
            {
                "event": action,
                "incident": {
                    "key": incident_key(incident.number),
                    "title": incident.title,
                    "severity": incident.severity,
                    "status": incident.status.value,
                    "started_at": incident.started_at.isoformat(),
                    "escalation_level": level,
                },
            }
        ).encode()
        headers: dict[str, str] = {}
        if target.get("secret_env"):
            stamp = str(int(time.time()))
            headers = {
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: sign(self._secret(str(target["secret_env"])), stamp, body),
            }
        await self._send(str(target["url"]), body, headers)

    async def _send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            response = await self._client.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}
            )
        except httpx.HTTPError as error:
            raise DeliveryError("pager_unreachable", detail=f"{url}: {error!r}") from error
        if response.status_code == 429 or response.status_code >= 500:
            after = response.headers.get("Retry-After")
            raise DeliveryError(
                f"http_{response.status_code}",
                retry_after=float(after) if after and after.isdigit() else None,
                detail=url,
            )
        if response.status_code >= 400:
            raise DeliveryError(
                f"http_{response.status_code}",
                retryable=False,  # the receiver says no for good
                detail=f"{url}: {response.text[:300]}",
            )
