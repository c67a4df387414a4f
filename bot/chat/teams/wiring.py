"""The Teams adapter's parts for one process, from the settings (called by bot.app)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from bot.chat.teams.activity_schema import require_sdk
from bot.chat.teams.adapter import TeamsChat
from bot.chat.teams.auth import InboundTokens, OutboundTokens, default_token_url
from bot.chat.teams.book import ConversationBook
from bot.chat.teams.connector import BotConnector, TokenSource
from bot.chat.teams.graph import GraphChannels
from bot.chat.teams.graph_files import GraphFiles
from bot.chat.teams.graph_users import GraphUsers
from bot.clock import Clock
from bot.config import Settings
from bot.errors import ConfigurationError
from bot.policy.schema import Policy
from bot.storage.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeamsParts:
    chat: TeamsChat
    book: ConversationBook
    connector: BotConnector
    inbound_tokens: InboundTokens | None  # None: anonymous, a local trial


def teams_parts(
    settings: Settings, *, db: Database, clock: Clock, policy: Policy, http: httpx.AsyncClient
) -> TeamsParts:
    problem = settings.teams_problem()
    if problem is not None:
        raise ConfigurationError(problem)
    require_sdk()
    book = ConversationBook(db=db, clock=clock)
    app_id = settings.teams_app_id
    if app_id is None:
        log.warning(
            "WARROOM_TEAMS_ANONYMOUS=true: Teams requests are NOT authenticated and replies "
            "carry no token. For a local trial only (the Agents Playground), never in production"
        )
        connector = BotConnector(http=http, tokens=None)
        inbound_tokens = None
    else:
        outbound = OutboundTokens(
            http=http,
            app_id=app_id,
            password=settings.teams_app_password or "",
            token_url=settings.teams_token_url or default_token_url(settings.teams_tenant_id),
            clock=clock,
        )
        connector = BotConnector(http=http, tokens=outbound, bot_id=app_id)
        inbound_tokens = InboundTokens(
            http=http,
            app_id=app_id,
            metadata_url=settings.teams_openid_metadata_url,
            clock=clock,
        )
    graph = _graph_clients(settings, policy=policy, http=http, clock=clock)
    chat = TeamsChat(
        connector=connector,
        book=book,
        policy=policy.teams,
        channels=graph.channels if graph else None,
        files=graph.files if graph else None,
        users=graph.users if graph else None,
    )
    return TeamsParts(chat=chat, book=book, connector=connector, inbound_tokens=inbound_tokens)


GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@dataclass(frozen=True)
class GraphClients:
    channels: GraphChannels
    files: GraphFiles
    users: GraphUsers


def _graph_clients(
    settings: Settings, *, policy: Policy, http: httpx.AsyncClient, clock: Clock
) -> GraphClients | None:
    """Graph, for channel mode, files and people, when the policy names a team."""
    if not policy.teams.uses_graph:
        return None
    tokens: TokenSource | None = None
    if settings.teams_app_id is not None:
        if not settings.teams_tenant_id and not settings.teams_token_url:
            # Graph's application tokens come from the app's own tenant, never from the
            # Bot Framework's: say so at start, not at the first incident.
            raise ConfigurationError(
                "teams.team_id uses Microsoft Graph, which needs WARROOM_TEAMS_TENANT_ID"
            )
        tokens = OutboundTokens(
            http=http,
            app_id=settings.teams_app_id,
            password=settings.teams_app_password or "",
            token_url=settings.teams_token_url or default_token_url(settings.teams_tenant_id),
            scope=GRAPH_SCOPE,
            clock=clock,
        )
    base = settings.teams_graph_url
    return GraphClients(
        channels=GraphChannels(http=http, tokens=tokens, base_url=base),
        files=GraphFiles(http=http, tokens=tokens, base_url=base),
        users=GraphUsers(http=http, tokens=tokens, base_url=base),
    )
