"""The composition root: builds every service from the settings and wires them into the ASGI app."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion import __version__, tasks
from bastion.accounting.pricing import PriceBook
from bastion.accounting.recorder import UsageRecorder
from bastion.accounting.records import UsageRecord
from bastion.accounting.spend_journal import SpendJournal
from bastion.accounting.spend_rows import sanitize_row, spend_row
from bastion.accounting.spend_writer import SpendWriter
from bastion.accounts.catalog import ModelCatalog
from bastion.accounts.conversations import ConversationService
from bastion.accounts.provider_keys import ProviderKeyService
from bastion.accounts.usage import UsageService
from bastion.accounts.users import AccountService
from bastion.administration import Administration, Announcer
from bastion.api.account import AccountApi, AccountServices
from bastion.api.browser import BrowserApi
from bastion.api.catalog import deployment_info
from bastion.api.generation import GenerationHandler
from bastion.api.management import ManagementApi
from bastion.api.responses import ResponsesApi
from bastion.api.routing import RoutingDryRun
from bastion.api.server import EndpointSource, GatewayApp
from bastion.auth.access_tokens import AccessTokenIssuer
from bastion.auth.browser_tokens import BrowserTokens
from bastion.auth.jwt_tokens import TokenVerifier
from bastion.auth.keys import KeyRing, extract_key
from bastion.auth.signing_secret import load_or_create_signing_secret
from bastion.auth.virtual_keys import VirtualKeys
from bastion.domain.principal import Principal
from bastion.domain.secret import Secret
from bastion.gateway.admission import Gatekeeper
from bastion.gateway.cache import ResponseCache, build_cache_store
from bastion.gateway.chat import ChatService
from bastion.gateway.credentials import CredentialChooser, SystemKeys
from bastion.gateway.embeddings import EmbeddingsService
from bastion.gateway.pipeline import Pipeline
from bastion.gateway.plan_admission import PlanGate
from bastion.gateway.plans import PLANS_CHANNEL, plan_directory_of, plan_notices
from bastion.gateway.response_store import ResponseStore
from bastion.gateway.router import Router
from bastion.gateway.routes import RouteTable
from bastion.gateway.tokens import TokenCounter
from bastion.limits import memory_limits
from bastion.limits.login import FailureCounter, LoginThrottle, MemoryFailureCounter
from bastion.limits.seeds import PlanWindows, spend_loader
from bastion.observability.logging import configure_logging
from bastion.observability.metrics import Metrics
from bastion.outbound.clients import OutboundClients
from bastion.providers.anthropic import AnthropicAdapter
from bastion.providers.base import ProviderAdapter
from bastion.providers.gemini import GeminiAdapter
from bastion.providers.mock import MockProvider
from bastion.providers.openai import OpenAIAdapter
from bastion.secrets import Vault
from bastion.secrets.scrubber import Scrubber
from bastion.settings import Settings, load_settings
from bastion.settings.secret_values import secret_values
from bastion.store.database import Database
from bastion.store.engine import create_store_engine
from bastion.store.errors import StoreUnavailableError
from bastion.store.migrate import apply_migrations, apply_migrations_aside
from bastion.web import build_dashboard

if TYPE_CHECKING:
    from bastion.outbound.resp import RespClient

__all__ = ["CONFIG_ENV", "METRICS_DIR_ENV", "build_app", "create_app_from_env"]

#: Which config :func:`create_app_from_env` loads (``bastion serve --workers N`` passes ``--config``
#: to its workers instead; the benchmark runs the app under other servers' workers with this).
CONFIG_ENV = "BASTION_CONFIG"
#: prometheus_client's own variable: where worker processes write their metric values.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

_log = logging.getLogger("bastion")


def build_app(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    record_sinks: Sequence[Callable[[UsageRecord], None]] = (),
    migrate: bool = True,
    work_aside: bool = False,
) -> GatewayApp:
    """Build the gateway. ``record_sinks`` receive every finished request's usage record;
    ``migrate`` applies database migrations at start-up. ``work_aside`` does start-up's one-off
    work that needs heavy libraries in child processes: due migrations (Alembic) and the shipped
    price table's look-ups of the configured models (genai-prices, then a copy saved in the data
    directory), so a long-lived server never loads them (``bastion serve``; tests, which start
    many gateways in one process, do it all in-process)."""
    metrics = metrics or Metrics()
    prices = PriceBook(settings.model_list)  # the one price of every deployment
    recorder = UsageRecorder(prices=prices, metrics=metrics, log_requests=settings.bastion.log_requests)
    data_dir = settings.state_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    store_path = data_dir / "bastion.db"
    engine = create_store_engine(settings.database_url, default_path=store_path)
    database = Database(engine)
    # Each answered request's spend row is journaled before its last byte is sent (SpendWriter.submit).
    spend = SpendWriter(
        lambda rows: _write_spend(database, rows),
        journal=SpendJournal(data_dir, durable=settings.bastion.spend_journal),
        is_outage=lambda exc: isinstance(exc, StoreUnavailableError),
        metrics=metrics,
        prepare=sanitize_row,  # cleaned one by one after each answer, not a batch at a time
    )
    recorder.sinks.append(lambda rec: spend.submit(spend_row(rec)))
    recorder.sinks.extend(record_sinks)
    spans = None
    if settings.bastion.otlp_endpoint:
        # OpenTelemetry is imported only here: a gateway without a collector never loads it.
        from bastion.accounting.request_spans import RequestSpans
        from bastion.observability.tracing import RequestTracer

        spans = RequestSpans(
            RequestTracer(
                settings.bastion.otlp_endpoint,
                service_name=settings.bastion.otlp_service_name,
                version=__version__,
            )
        )
        recorder.sinks.append(spans)
    virtual = VirtualKeys(
        database.keys,
        database.teams,
        database.users,
        ttl=settings.bastion.key_cache_ttl,
        serve_known_keys=settings.bastion.allow_requests_on_db_unavailable,
    )
    # One HTTP client, one Redis client and one pub/sub connection for the whole process.
    clients = OutboundClients(redis_url=settings.bastion.redis_url)
    http = clients.http
    jwt_auth = settings.bastion.jwt_auth
    tokens = TokenVerifier.from_settings(jwt_auth, http=http) if jwt_auth is not None else None
    browser = settings.bastion.browser
    browser_tokens = BrowserTokens.from_settings(browser, settings.master_key) if browser else None
    keyring = KeyRing(settings, virtual=virtual, tokens=tokens, browser=browser_tokens)
    router = Router(settings)
    adapters: dict[str, ProviderAdapter] = {
        "openai": OpenAIAdapter(),
        "anthropic": AnthropicAdapter(default_max_tokens=settings.bastion.default_max_tokens),
        "gemini": GeminiAdapter(),
        "mock": MockProvider(),
    }
    plan_directory = plan_directory_of(settings, database)
    plan_windows = PlanWindows(budgets={}, quotas={})
    loader = spend_loader(
        database,
        unwritten=spend.with_unwritten,
        end_user_budget=jwt_auth.user_limits.budget_duration if jwt_auth else None,
        plans=plan_windows,
    )
    if clients.redis is not None and clients.subscriber is not None:
        from bastion.limits.redis import redis_limits  # the Redis stores only when shared

        limits = redis_limits(client=clients.redis, subscriber=clients.subscriber, loader=loader)
    else:
        limits = memory_limits(loader=loader)
    virtual.is_revoked = limits.revocations.is_revoked  # checked before a key is served in an outage
    plan_gate = PlanGate(plan_directory, limits.budgets, metrics=metrics, windows=plan_windows)
    notify_plans = plan_notices(plan_directory, clients)
    # Billing (billing_settings): the credit check in admission, and the in-process workers.
    billing = None
    if settings.billing is not None:
        from bastion.billing.service import BillingService

        billing = BillingService(settings.billing, database.billing, http=http)
    gatekeeper = Gatekeeper(
        limits,
        prices=prices,
        router=router,
        default_max_tokens=settings.bastion.default_max_tokens,
        metrics=metrics,
        allow_unpriced=settings.bastion.allow_unpriced_models_with_budgets,
        entitlement=billing.entitlement if billing is not None else None,
        plans=plan_gate,
    )
    cache = None
    if settings.cache.enabled:
        cache_redis = clients.redis_at(settings.cache.redis_url) if settings.cache.redis_url else None
        cache = ResponseCache(settings.cache, build_cache_store(settings.cache, cache_redis), metrics)
    credentials = CredentialChooser(SystemKeys(), user_keys=settings.bastion.accounts.user_keys)
    chat = ChatService(
        settings,
        router=router,
        http=http,
        adapters=adapters,
        recorder=recorder,
        metrics=metrics,
        gatekeeper=gatekeeper,
        cache=cache,
        credentials=credentials,
    )
    routes = RouteTable(settings)
    shared_health = None
    cooldowns = settings.router.get("disable_cooldowns") is not True
    usage = settings.routing_strategy.startswith("usage-based-routing")
    if clients.redis is not None and (cooldowns or usage):
        from bastion.gateway.health_shared import SharedHealth  # Redis only when used

        shared_health = SharedHealth(
            clients.redis,
            router.health,
            [dep.deployment_id for dep in settings.model_list],
            cooldowns=cooldowns,
            usage=usage,
        )
    limit = int(settings.bastion.max_request_size_mb * 1024 * 1024)
    # The one order every call takes (gateway/pipeline.py); the surfaces are adapters around it.
    pipeline = Pipeline(
        keys=keyring,
        router=router,
        chat=chat,
        embeddings=EmbeddingsService(chat, http),
        tokens=TokenCounter(chat, http, router_groups=router.group),
        gatekeeper=gatekeeper,
        routes=routes,
    )
    generation = GenerationHandler(
        pipeline=pipeline,
        metrics=metrics,
        body_limit=limit,
        keepalive_seconds=settings.bastion.stream_keepalive_seconds,
    )

    account_api, accounts, provider_keys, signing_secret, throttle = _account_api(
        settings,
        database,
        pipeline,
        credentials,
        prices,
        data_dir=data_dir,
        body_limit=limit,
        redis=clients.redis,
        plans=plan_gate,
    )

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        """Start-up in order; shut-down in the reverse order, however far start-up got."""
        async with AsyncExitStack() as stack:
            supervisor = tasks.current()
            stack.push_async_callback(supervisor.close)  # last: cancel whatever still runs
            # One HTTP client, the Redis client(s) and the pub/sub connection: closed after their users.
            stack.push_async_callback(clients.close)
            if spans is not None:  # the last spans are sent before the process ends
                stack.push_async_callback(asyncio.to_thread, spans.close)
            stack.push_async_callback(database.close)
            # The one-off jobs of start-up; with work_aside, child processes do them side by side.
            jobs: list[Awaitable[object]] = []
            if migrate:
                if work_aside:
                    jobs.append(
                        apply_migrations_aside(engine, settings.database_url, default_path=store_path)
                    )
                else:
                    jobs.append(apply_migrations(engine))
            if work_aside:
                jobs.append(asyncio.to_thread(prices.prefetch, settings.model_list, data_dir))
            await asyncio.gather(*jobs)
            if tokens is not None:
                stack.push_async_callback(tokens.keys.close)
            spend.start()
            # Before the database closes: every row written, or left in the journal for the next start.
            stack.push_async_callback(spend.drain)
            stack.push_async_callback(provider_keys.close)
            await provider_keys.reload_system_keys()
            provider_keys.start()
            stack.push_async_callback(accounts.close)
            first = settings.bastion.accounts
            if first.first_superuser is not None and first.first_superuser_password is not None:
                await accounts.ensure_first_superuser(first.first_superuser, first.first_superuser_password)
            stack.push_async_callback(gatekeeper.close)  # settles what is left, closes the limits
            # Another process deleted, blocked or changed a key: forget it here too (None: all are stale).
            await limits.revocations.subscribe(virtual.forget)
            if clients.subscriber is not None:  # plans or customers changed in another process
                await clients.subscriber.subscribe(PLANS_CHANNEL, plan_directory.invalidate)
            if cache is not None:
                stack.push_async_callback(cache.close)
            if shared_health is not None:
                stack.push_async_callback(shared_health.close)
                shared_health.start()
            if billing is not None:
                stack.push_async_callback(billing.stop)  # passes in progress finish; the rest waits
                await billing.start()
            if tokens is not None:
                await tokens.keys.refresh()  # a JWKS URL is fetched now; failing here is logged, not fatal
            # The configured models' prices now, off the request path (prefetched above with work_aside).
            prices.warm(settings.model_list)
            _start_up_warnings(settings, keyring)
            # First at shut-down: the jobs requests started (settlements, cache writes) finish.
            stack.push_async_callback(supervisor.drain, _DRAIN_SECONDS)
            yield

    # One service layer for the management API, the dashboard (and, offline, the CLI): key changes
    # are announced to every process through the limits layer's revocation channel.
    admin = Administration(
        database,
        announce=Announcer(limits.revocations.revoke, limits.revocations.unrevoke, forget=virtual.forget),
        plans=settings.bastion.plans,
        notify_plans=notify_plans,
    )
    management = ManagementApi(
        admin,
        # ?key= on /key/info names the key being looked up; only headers authenticate here.
        lambda request: keyring.authenticate(extract_key(request.headers, None)),
        lambda: deployment_info(settings, prices),
        limit,
    )
    browser_api = None
    if browser is not None and browser_tokens is not None:
        browser_api = BrowserApi(
            browser, generation=generation, router=router, tokens=browser_tokens, metrics=metrics
        )
    dashboard = build_dashboard(
        admin=admin,
        accounts=accounts,
        router=router,
        master_key=settings.master_key,
        signing_secret=signing_secret,
        throttle=throttle,
        billing=billing is not None,
        static_keys=settings.bastion.static_keys,
    )
    responses = ResponsesApi(
        generation,
        ResponseStore(database.responses, retention_days=settings.bastion.response_retention_days),
    )
    routers: list[EndpointSource] = [management, account_api, dashboard]
    if browser_api is not None:
        routers.append(browser_api)
    app = GatewayApp(
        routers=routers,
        operations=responses.operations(),
        generation=generation,
        router=router,
        metrics=metrics,
        body_limit=limit,
        lifespan=lifespan,
        dry_run=RoutingDryRun(routes, router, limit).handle,
        overload=settings.bastion.overload,
        scrubber=Scrubber(secret_values(settings)),
        prices=prices,
        gatekeeper=gatekeeper,
    )
    app.cache = cache
    app.shared_health = shared_health
    app.database = database
    app.spend_writer = spend
    app.billing = billing
    return app


#: How long shut-down waits for the background jobs requests started before cancelling them.
_DRAIN_SECONDS = 10.0


def _start_up_warnings(settings: Settings, keyring: KeyRing) -> None:
    browser = settings.bastion.browser
    if browser is not None and browser.token_secret is None and settings.master_key is None:
        _log.warning(
            "bastion_settings.browser has no token_secret and there is no master key: browser "
            "tokens are signed with a random secret and work only in this process"
        )
    if keyring.open:
        _log.warning(
            "no master_key and no static keys are configured: this gateway accepts calls from anyone"
        )


def _account_api(
    settings: Settings,
    database: Database,
    pipeline: Pipeline,
    credentials: CredentialChooser,
    prices: PriceBook,
    *,
    data_dir: Path,
    body_limit: int,
    redis: RespClient | None,
    plans: PlanGate | None,
) -> tuple[AccountApi, AccountService, ProviderKeyService, Callable[[], Secret], LoginThrottle]:
    """The ``/v2`` account API and the services behind it."""
    options = settings.bastion.accounts
    keys = ProviderKeyService(
        database, Vault(options.encryption_keys), credentials.system, settings.model_list
    )
    if options.jwt_secret is None and settings.database_url is not None:
        _log.warning(
            "no BASTION_JWT_SECRET is configured: access tokens are signed with a secret kept in %s, "
            "which other hosts do not share",
            data_dir,
        )
    jwt_secret = options.jwt_secret
    signing_secret: Callable[[], Secret] = (
        (lambda: jwt_secret) if jwt_secret is not None else (lambda: load_or_create_signing_secret(data_dir))
    )
    issuer = AccessTokenIssuer(
        options.jwt_secret or (lambda: load_or_create_signing_secret(data_dir)),
        lifetime_seconds=options.access_token_minutes * 60,
    )
    counter: FailureCounter = MemoryFailureCounter()
    if redis is not None:
        # Gateways sharing a database share login counters; other deployments on the same Redis don't.
        place = settings.database_url or str(data_dir / "bastion.db")
        from bastion.limits.redis import RedisFailureCounter

        counter = RedisFailureCounter(
            redis, prefix=f"bastion:{hashlib.sha256(place.encode()).hexdigest()[:12]}:"
        )
    throttle = LoginThrottle(
        counter,
        max_failures=options.login_max_failures,
        lockout_seconds=options.login_lockout_seconds,
        slowdown_seconds=options.login_slowdown_seconds,
    )
    accounts = AccountService(database, issuer, throttle, min_password_length=options.min_password_length)
    catalog = ModelCatalog(settings, prices, credentials)
    services = AccountServices(
        accounts=accounts,
        keys=keys,
        catalog=catalog,
        conversations=ConversationService(database, pipeline, catalog, keys),
        usage=UsageService(database),
        user_keys_mode=options.user_keys,
        body_limit=body_limit,
        keepalive_seconds=settings.bastion.stream_keepalive_seconds,
        plan_usage=_plan_usage(plans),
    )
    return AccountApi(services), accounts, keys, signing_secret, throttle


def _plan_usage(plans: PlanGate | None) -> Callable[[str], Awaitable[dict[str, Any]]] | None:
    """A person's plan and quota, as their /v2 usage shows it (they are end users of plans)."""
    if plans is None:
        return None
    gate = plans

    async def usage(user_id: str) -> dict[str, Any]:
        found = await gate.usage(Principal("user", "", "", user_id=user_id, end_user=user_id))
        return {key: found[key] for key in ("plan", "quota", "budget")}

    return usage


async def _write_spend(database: Database, rows: list[dict[str, Any]]) -> None:
    await database.spend.insert_spend_rows(rows)


def create_app_from_env() -> GatewayApp:
    """Factory for other ASGI servers' worker processes (the benchmark runs the gateway under
    uvicorn's and Granian's ``--workers``): the config path comes from the environment."""
    settings = load_settings(os.environ[CONFIG_ENV])
    configure_logging(
        level=settings.bastion.log_level,
        json_logs=settings.bastion.json_logs,
        secrets=secret_values(settings),
    )
    return build_app(settings, metrics=Metrics(multiprocess_dir=os.environ.get(METRICS_DIR_ENV)))
