"""The chat side of the postmortem: each version of the document shared in the incident's
channel as a file, the Confluence page created once and updated afterwards, and the
reminders sent to one person.

Each renders what is stored when it runs. An upload whose answer was lost is found again
by its file name (each version has its own) before it is made again, so a version is
shared once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx
from sqlalchemy.orm import Session

from bot.chat.port import ChatPlatform, Document, Message
from bot.clock import Clock
from bot.delivery.effects import ChatEffects
from bot.delivery.outbox import DeliveryKind, Effect, Landed
from bot.delivery.rechecks import KEEP_FIRST
from bot.errors import DeliveryError
from bot.incidents.status import incident_key
from bot.incidents.timeline import record
from bot.policy.schema import Policy
from bot.postmortem.confluence import ConfluencePublisher
from bot.postmortem.document import (
    DocumentData,
    HtmlRenderer,
    document_filename,
    load_document,
    render_confluence,
    render_markdown,
)
from bot.postmortem.service import postmortem_of
from bot.storage.database import Database
from bot.storage.models import Delivery, Incident, TimelineKind
from bot.text.markdown import user_ref
from bot.text.templates import Renderer

log = logging.getLogger(__name__)

EXPORTED_TEMPLATE = "postmortem_exported.md.j2"


class PostmortemEffects:
    def __init__(
        self,
        *,
        db: Database,
        chat: ChatPlatform,
        effects: ChatEffects,
        policy: Policy,
        renderer: Renderer,
        http: httpx.AsyncClient,
        environ: Mapping[str, str],
        clock: Clock,
    ) -> None:
        self._clock = clock
        self._db = db
        self._chat = chat
        self._effects = effects
        self._policy = policy
        self._renderer = renderer
        self._pages = HtmlRenderer(renderer)
        confluence = policy.postmortem.confluence
        self._confluence = (
            ConfluencePublisher(http=http, settings=confluence, environ=environ)
            if confluence is not None
            else None
        )

    def registry(self) -> Mapping[str, Effect]:
        return {
            DeliveryKind.EXPORT_POSTMORTEM.value: self.export,
            DeliveryKind.PUBLISH_POSTMORTEM.value: self.publish,
            DeliveryKind.POST_DIRECT.value: self.post_direct,
        }

    async def _document(self, delivery: Delivery, version: int) -> tuple[Incident, str]:
        incident_id = delivery.incident_id

        def load(session: Session) -> tuple[Incident, DocumentData] | None:
            incident = session.get(Incident, incident_id) if incident_id is not None else None
            if incident is None:
                return None
            return incident, load_document(session, incident, policy=self._policy, version=version)

        loaded = await self._db.transaction(load)
        if loaded is None:
            raise DeliveryError("incident_missing", retryable=False, detail=str(incident_id))
        incident, data = loaded
        # Rendered after the transaction: no database lock is held meanwhile.
        return incident, render_markdown(data, self._renderer)

    async def export(self, delivery: Delivery) -> Landed | None:
        """Share one version of the document in the incident's channel."""
        version = int(delivery.payload["version"])
        incident, markdown = await self._document(delivery, version)
        if incident.channel_id is None:
            raise DeliveryError("channel_not_open_yet")
        channel_id = incident.channel_id
        filename = document_filename(incident.number, version)
        if delivery.attempts > 1 and await self._chat.files_named(
            channel_id=channel_id, filename=filename
        ):
            return self._exported(incident, delivery, filename)  # an earlier attempt landed
        key = incident_key(incident.number)
        comment = self._renderer.render(
            EXPORTED_TEMPLATE,
            key=key,
            version=version,
            previous=document_filename(incident.number, version - 1) if version > 1 else "",
            who=user_ref(str(delivery.payload.get("by", incident.declared_by))),
        )
        document = Document(
            filename=filename,
            title=f"{key} postmortem" + (f" (version {version})" if version > 1 else ""),
            content=markdown.encode("utf-8"),
            comment=comment,
        )
        done = await self._effects.turn_in(channel_id, delivery)
        try:
            await self._chat.upload_file(channel_id=channel_id, document=document)
        finally:
            done()
        if delivery.attempts > 1:
            await self._keep_one(channel_id, filename)
        return self._exported(incident, delivery, filename)

    async def _keep_one(self, channel_id: str, filename: str) -> None:
        """A retry may meet a late copy of an earlier attempt: keep the first only."""
        for extra in (await self._chat.files_named(channel_id=channel_id, filename=filename))[1:]:
            log.warning("removing a second copy of %s in %s", filename, channel_id)
            await self._chat.delete_file(file_ref=extra)

    def _exported(self, incident: Incident, delivery: Delivery, filename: str) -> Landed:
        incident_id, version = incident.id or 0, int(delivery.payload["version"])
        actor = str(delivery.payload.get("by") or "") or None
        now = self._clock()

        def landed(session: Session) -> None:
            record(
                session,
                incident_id=incident_id,
                kind=TimelineKind.POSTMORTEM,
                at=now,
                actor=actor,
                data={"op": "exported", "version": version, "file": filename},
            )

        return landed

    async def publish(self, delivery: Delivery) -> Landed | None:
        """Create the Confluence page, or update the one created before."""
        if self._confluence is None:
            return None  # no longer configured: nothing to publish to
        incident_id = delivery.incident_id

        def load(session: Session) -> tuple[Incident, DocumentData, str | None] | None:
            incident = session.get(Incident, incident_id) if incident_id is not None else None
            if incident is None:
                return None
            data = load_document(session, incident, policy=self._policy)
            written = postmortem_of(session, incident.id or 0)
            page = written.confluence_page_id if written is not None else None
            return incident, data, page

        loaded = await self._db.transaction(load)
        if loaded is None:
            raise DeliveryError("incident_missing", retryable=False, detail=str(incident_id))
        incident, data, page_id = loaded
        body = render_confluence(data, self._pages)
        title = f"{incident_key(incident.number)} postmortem: {incident.title}"[:255]
        page = await self._confluence.publish(title=title, body=body, page_id=page_id)
        created = page_id is None
        actor = str(delivery.payload.get("by") or "") or None
        now = self._clock()

        def landed(session: Session) -> None:
            written = postmortem_of(session, incident.id or 0)
            if written is not None:
                written.confluence_page_id, written.confluence_url = page.page_id, page.url[:500]
            if created:
                record(
                    session,
                    incident_id=incident.id or 0,
                    kind=TimelineKind.POSTMORTEM,
                    at=now,
                    actor=actor,
                    data={"op": "published", "url": page.url},
                )

        return landed

    async def post_direct(self, delivery: Delivery) -> None:
        """A reminder for one person, in their direct conversation with the bot."""
        user = str(delivery.payload["user"])
        channel_id = await self._chat.direct_channel(user_id=user)
        message = Message(
            markdown=str(delivery.payload["markdown"]),
            fallback=str(delivery.payload.get("fallback", "")),
            marker=f"delivery:{delivery.id}",
        )
        await self._effects.post_once(channel_id, message, delivery, keep=KEEP_FIRST)
