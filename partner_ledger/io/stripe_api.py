"""Stripe API → ``raw.stripe_objects`` (SPEC §1.2, §3.3): incremental, paginated, retried pulls.

Each object type is pulled with the official SDK, 100 objects a page, and lands as one delivery:
one ``delivery_seq``, one ``raw.load_manifest`` row (``source = 'stripe_api'``, ``path =
'api:<object_type>'``) and one ``raw.stripe_cursors`` row, written together in ONE DuckDB
transaction. A failure anywhere in the pull of a type (HTTP 5xx after the SDK's retries, a refused
connection, a 429 that does not clear) rolls that transaction back: nothing of that type is
committed, its cursor stays where it was, and :class:`StripePullError` is raised.

Incremental strategy (docs/decisions/0005-stripe-incremental-pull.md): the cursor of a type is the
largest ``created`` seen so far. Customers are asked again from ``cursor - CURSOR_OVERLAP_SECONDS``;
every other type, because it changes after creation (an invoice gets paid, a charge settles or is
refunded, a refund fails, a dispute is decided), is re-pulled from ``cursor - lookback_days``. A
re-pulled object lands again only if its JSON differs from the latest stored version of that id, so
an unchanged object is not duplicated and a changed one supersedes the old version downstream
(``order by delivery_seq desc, line_no desc``).

Secrets: the API key is only ever handed to the SDK client. It is scrubbed from every exception
message raised from here, never logged (this module logs counts only, and the SDK's own ``stripe``
logger is held at WARNING during a pull, with a filter that masks the key), and never written to the
warehouse.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import duckdb
import stripe

from partner_ledger.io.warehouse import ensure_raw_schema, next_delivery_seq

log = logging.getLogger(__name__)

#: Object types pulled, in this order (each its own delivery and transaction).
STRIPE_API_OBJECTS: tuple[str, ...] = (
    "customers",
    "subscriptions",
    "invoices",
    "charges",
    "refunds",
    "disputes",
    "checkout_sessions",
)
#: Types re-pulled over the look-back window because they change after creation.
LOOKBACK_OBJECTS: frozenset[str] = frozenset(STRIPE_API_OBJECTS) - {"customers"}
#: Re-read this much before the cursor of the other types (late-visible objects, equal seconds).
CURSOR_OVERLAP_SECONDS = 300
PAGE_SIZE = 100
MAX_NETWORK_RETRIES = 3
#: Back-off for 429 (the SDK retries 5xx, 409 and connection errors itself, not 429).
RATE_LIMIT_BASE_DELAY = 1.0
RATE_LIMIT_MAX_DELAY = 30.0
#: The API version the bodies are requested in. SPEC §1.2 reads ``invoice.charge``,
#: ``invoice.subscription``, ``invoice.tax``, ``invoice.discount`` and ``charge.invoice``, which
#: Stripe removed in 2025-03-31.basil; this is the last version that still returns them.
STRIPE_API_VERSION = "2025-02-24.acacia"
STRIPE_API_HOST = "api.stripe.com"

_EXTRA_LIST_PARAMS: dict[str, dict[str, Any]] = {
    # The list endpoint hides canceled subscriptions unless asked for all of them.
    "subscriptions": {"status": "all"},
}

CURSOR_DDL = """
    create table if not exists raw.stripe_cursors (
        object_type varchar primary key,
        created_gte bigint,          -- largest `created` pulled so far (the next pull's lower bound
                                     -- before overlap / look-back); null = pull everything
        updated_at timestamp         -- when the last successful pull of this type committed (UTC)
    )
"""


class _EndpointMissing(Exception):
    """A Stripe-compatible server has no list endpoint for this type (404 on the first page)."""


class StripePullError(RuntimeError):
    """A Stripe pull failed; the failing object type committed nothing and kept its cursor.

    ``object_type`` names the type that failed and ``summary`` holds the types committed before it.
    The message never contains the API key.
    """

    def __init__(
        self,
        message: str,
        *,
        object_type: str | None = None,
        summary: StripePullSummary | None = None,
    ) -> None:
        super().__init__(message)
        self.object_type = object_type
        self.summary = summary


@dataclass(frozen=True)
class ObjectPull:
    """One committed pull of one object type."""

    object_type: str
    delivery_seq: int
    created_gte: int | None  # lower bound of the window asked for; None = everything
    cursor_before: int | None
    cursor_after: int | None
    pages: int
    rows_read: int  # objects the API returned inside the window
    rows_loaded: int  # new or changed versions written to raw.stripe_objects
    rows_rejected: int  # objects without an id (not written)

    @property
    def rows_unchanged(self) -> int:
        return self.rows_read - self.rows_loaded - self.rows_rejected


@dataclass
class StripePullSummary:
    pulls: list[ObjectPull] = field(default_factory=list)
    #: Types the (Stripe-compatible) server has no list endpoint for (HTTP 404): nothing written.
    unsupported: list[str] = field(default_factory=list)

    def pull(self, object_type: str) -> ObjectPull | None:
        return next((p for p in self.pulls if p.object_type == object_type), None)

    @property
    def rows_read(self) -> int:
        return sum(p.rows_read for p in self.pulls)

    @property
    def rows_loaded(self) -> int:
        return sum(p.rows_loaded for p in self.pulls)

    @property
    def rows_rejected(self) -> int:
        return sum(p.rows_rejected for p in self.pulls)

    @property
    def objects(self) -> int:
        """Object versions written to ``raw.stripe_objects`` (= ``rows_loaded``)."""
        return self.rows_loaded


# --------------------------------------------------------------------------------------------
# secrets


def _scrub(text: str, api_key: str) -> str:
    return text.replace(api_key, "***") if api_key else text


class _KeyScrubber(logging.Filter):
    def __init__(self, api_key: str) -> None:
        super().__init__()
        self._key = api_key

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._key in message:
            record.msg = _scrub(message, self._key)
            record.args = None
        return True


@contextlib.contextmanager
def _guarded_logging(api_key: str) -> Iterator[None]:
    """For the duration of a pull: hold the SDK's ``stripe`` logger at WARNING (at INFO/DEBUG it
    logs URLs and whole response bodies, including error messages a server may echo the key in),
    switch off its console printing (``stripe.log`` / ``STRIPE_LOG``, which bypass ``logging``),
    and mask the key in anything the SDK's logger or this module's still emits."""
    sdk_logger = logging.getLogger("stripe")
    scrubber = _KeyScrubber(api_key)
    old_level = sdk_logger.level
    old_console = stripe.log
    sdk_util = getattr(stripe, "_util", None)
    old_env_console = getattr(sdk_util, "STRIPE_LOG", None)
    sdk_logger.setLevel(logging.WARNING)
    sdk_logger.addFilter(scrubber)
    log.addFilter(scrubber)
    stripe.log = None
    if sdk_util is not None and hasattr(sdk_util, "STRIPE_LOG"):
        sdk_util.STRIPE_LOG = None
    try:
        yield
    finally:
        if sdk_util is not None and hasattr(sdk_util, "STRIPE_LOG"):
            sdk_util.STRIPE_LOG = old_env_console
        stripe.log = old_console
        log.removeFilter(scrubber)
        sdk_logger.removeFilter(scrubber)
        sdk_logger.setLevel(old_level)


# --------------------------------------------------------------------------------------------
# cursors


def ensure_cursor_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(CURSOR_DDL)


def read_cursor(con: duckdb.DuckDBPyConnection, object_type: str) -> int | None:
    row = con.execute(
        "select created_gte from raw.stripe_cursors where object_type = ?", [object_type]
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _write_cursor(
    con: duckdb.DuckDBPyConnection, object_type: str, created_gte: int | None, at: datetime
) -> None:
    con.execute(
        """
        insert into raw.stripe_cursors values (?, ?, ?)
        on conflict (object_type) do update
        set created_gte = excluded.created_gte, updated_at = excluded.updated_at
        """,
        [object_type, created_gte, at],
    )


# --------------------------------------------------------------------------------------------
# the API side


def _services(client: stripe.StripeClient) -> dict[str, Callable[..., Any]]:
    v1 = client.v1
    return {
        "customers": v1.customers.list,
        "subscriptions": v1.subscriptions.list,
        "invoices": v1.invoices.list,
        "charges": v1.charges.list,
        "refunds": v1.refunds.list,
        "disputes": v1.disputes.list,
        "checkout_sessions": v1.checkout.sessions.list,
    }


def _retry_after(exc: stripe.StripeError, attempt: int) -> float:
    headers = exc.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        wait = float(value) if value is not None else None
    except ValueError:
        wait = None
    if wait is None:
        wait = RATE_LIMIT_BASE_DELAY * (2**attempt)
    return max(0.0, min(wait, RATE_LIMIT_MAX_DELAY))


def _with_rate_limit_retries(fetch: Callable[[], Any], object_type: str) -> Any:
    """Run one page request; back off and repeat on 429 (other retries are the SDK's)."""
    attempt = 0
    while True:
        try:
            return fetch()
        except stripe.RateLimitError as exc:
            if attempt >= MAX_NETWORK_RETRIES:
                raise
            wait = _retry_after(exc, attempt)
            attempt += 1
            log.warning(
                "stripe %s: rate limited (429), retry %d of %d in %.2fs",
                object_type,
                attempt,
                MAX_NETWORK_RETRIES,
                wait,
            )
            time.sleep(wait)


def _pages(
    list_fn: Callable[..., Any],
    params: dict[str, Any],
    object_type: str,
    *,
    tolerate_missing_endpoint: bool,
) -> Iterator[Any]:
    """Yield every page (a ListObject) of one list endpoint, following ``has_more``."""
    try:
        page = _with_rate_limit_retries(lambda: list_fn(params=params), object_type)
    except stripe.StripeError as exc:
        if tolerate_missing_endpoint and exc.http_status == 404:
            raise _EndpointMissing(object_type) from None
        raise
    while True:
        yield page
        if not page.has_more or not page.data:
            return
        previous = page
        page = _with_rate_limit_retries(previous.next_page, object_type)


def _raw_objects(page: Any) -> list[dict[str, Any]]:
    """The page's objects exactly as the API sent them (not re-serialised SDK objects)."""
    response = page.last_response
    if response is not None and isinstance(response.data, dict):
        return list(response.data.get("data") or [])
    return [obj.to_dict(recursive=True, for_json=True) for obj in page.data]


# --------------------------------------------------------------------------------------------
# one object type


def _pull_one(
    con: duckdb.DuckDBPyConnection,
    list_fn: Callable[..., Any],
    object_type: str,
    *,
    cursor_before: int | None,
    lookback_days: int,
    server_side_filter: bool,
    compatible_server: bool,
    loaded_at: datetime,
) -> ObjectPull:
    """Pull one object type inside the caller's open transaction."""
    if cursor_before is None:
        created_gte = None
    elif object_type in LOOKBACK_OBJECTS:
        created_gte = cursor_before - lookback_days * 86400
    else:
        created_gte = cursor_before - CURSOR_OVERLAP_SECONDS

    params: dict[str, Any] = {"limit": PAGE_SIZE, **_EXTRA_LIST_PARAMS.get(object_type, {})}
    if created_gte is not None and server_side_filter:
        params["created"] = {"gte": created_gte}

    seq = next_delivery_seq(con)
    path = f"api:{object_type}"
    con.execute(
        "create or replace temp table pl_stripe_pull "
        "(line_no bigint, object_id varchar, body varchar)"
    )
    pages = rows_read = rejected = 0
    max_created = cursor_before
    pages_iter = _pages(list_fn, params, object_type, tolerate_missing_endpoint=compatible_server)
    for page in pages_iter:
        pages += 1
        batch: list[tuple[int, str, str]] = []
        for obj in _raw_objects(page):
            created = obj.get("created")
            if created_gte is not None and isinstance(created, int) and created < created_gte:
                continue  # outside the window (a server that ignores created[gte])
            rows_read += 1
            if isinstance(created, int) and (max_created is None or created > max_created):
                max_created = created
            object_id = obj.get("id")
            if not (isinstance(object_id, str) and object_id):
                rejected += 1
                continue
            batch.append((rows_read, object_id, json.dumps(obj, ensure_ascii=False)))
        if batch:
            con.executemany("insert into temp.pl_stripe_pull values (?, ?, ?)", batch)

    # Keep the last copy of each id in this pull, and only if it differs from the latest
    # version already stored (from the API or from a file).
    con.execute(
        """
        insert into raw.stripe_objects
        select ?, ?, pulled.line_no, ?, pulled.object_id, pulled.body
        from (
            select * from temp.pl_stripe_pull
            qualify row_number() over (partition by object_id order by line_no desc) = 1
        ) as pulled
        left join (
            select object_id, body
            from raw.stripe_objects
            where object_type = ?
              and object_id in (select object_id from temp.pl_stripe_pull)
            qualify row_number() over (
                partition by object_id order by delivery_seq desc, line_no desc
            ) = 1
        ) as stored using (object_id)
        where stored.body is null or stored.body <> pulled.body
        order by pulled.line_no
        """,
        [seq, path, object_type, object_type],
    )
    digest = hashlib.sha256()
    loaded = 0
    result = con.execute(
        "select body from raw.stripe_objects where delivery_seq = ? order by line_no", [seq]
    )
    while chunk := result.fetchmany(1000):
        for (body,) in chunk:
            digest.update(body.encode("utf-8"))
            loaded += 1
    con.execute("drop table if exists temp.pl_stripe_pull")

    con.execute(
        "insert into raw.load_manifest values (?, 'stripe_api', ?, ?, ?, ?, ?, ?, ?)",
        [seq, object_type, path, digest.hexdigest(), rows_read, loaded, rejected, loaded_at],
    )
    _write_cursor(con, object_type, max_created, loaded_at)
    return ObjectPull(
        object_type=object_type,
        delivery_seq=seq,
        created_gte=created_gte,
        cursor_before=cursor_before,
        cursor_after=max_created,
        pages=pages,
        rows_read=rows_read,
        rows_loaded=loaded,
        rows_rejected=rejected,
    )


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("rollback")
    except duckdb.Error:
        log.warning("rollback after a failed Stripe pull did not succeed", exc_info=False)


def _describe(exc: BaseException, api_key: str) -> str:
    if isinstance(exc, stripe.APIConnectionError):
        what = "could not reach the Stripe API (connection failed after retries)"
    elif isinstance(exc, stripe.RateLimitError):
        what = "the Stripe API kept rate limiting (HTTP 429) after retries"
    elif isinstance(exc, stripe.AuthenticationError):
        what = "the Stripe API rejected the API key (HTTP 401)"
    elif isinstance(exc, stripe.StripeError) and exc.http_status:
        what = f"the Stripe API answered HTTP {exc.http_status}"
        if exc.http_status >= 500:
            what += " after retries"
    else:
        what = "unexpected error"
    detail = " ".join(str(exc).split()) or "no detail"
    return _scrub(f"{what}: {type(exc).__name__}: {detail}", api_key)


# --------------------------------------------------------------------------------------------
# public entry points


def pull_stripe(
    con: duckdb.DuckDBPyConnection,
    *,
    api_key: str,
    api_base: str | None = None,
    lookback_days: int = 45,
    now: datetime | None = None,
    object_types: Sequence[str] | None = None,
    server_side_filter: bool | None = None,
) -> StripePullSummary:
    """Pull Stripe objects incrementally into ``raw.stripe_objects``.

    Each object type is its own delivery, committed in one transaction with its manifest row and
    cursor; the first failing type raises :class:`StripePullError` (types before it stay
    committed, it commits nothing).

    - ``api_base``: a Stripe-compatible server (e.g. localstripe) instead of api.stripe.com.
    - ``lookback_days``: how far before the cursor the changing types are re-pulled.
    - ``now``: stamps the manifest and cursor rows (default: the wall clock; naive = UTC).
    - ``object_types``: a subset of :data:`STRIPE_API_OBJECTS` (default: all, in that order).
    - ``server_side_filter``: send ``created[gte]`` to the API. Default: only to api.stripe.com
      (compatible servers reject it); the window is always enforced client-side as well.

    On a compatible server, a type whose list endpoint answers 404 is skipped (nothing written)
    and reported in ``summary.unsupported``.
    """
    if not api_key or not api_key.strip():
        raise StripePullError("Stripe pull needs an API key (STRIPE_API_KEY is empty)")
    if lookback_days < 0:
        raise StripePullError(f"lookback_days must be >= 0, got {lookback_days}")
    types = tuple(object_types) if object_types is not None else STRIPE_API_OBJECTS
    unknown = [t for t in types if t not in STRIPE_API_OBJECTS]
    if unknown:
        raise StripePullError(f"unknown Stripe object types {unknown!r}")
    host = urlparse(api_base).hostname if api_base else STRIPE_API_HOST
    compatible_server = host != STRIPE_API_HOST
    if server_side_filter is None:
        server_side_filter = not compatible_server
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # a naive timestamp is taken as UTC
    stamp = now.astimezone(UTC).replace(tzinfo=None)

    ensure_raw_schema(con)
    ensure_cursor_table(con)
    client = stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        stripe_version=STRIPE_API_VERSION,
        max_network_retries=MAX_NETWORK_RETRIES,
    )
    services = _services(client)
    summary = StripePullSummary()
    with _guarded_logging(api_key):
        for object_type in types:
            cursor_before = read_cursor(con, object_type)
            failure: str | None = None
            committed = False
            con.execute("begin transaction")
            try:
                pull = _pull_one(
                    con,
                    services[object_type],
                    object_type,
                    cursor_before=cursor_before,
                    lookback_days=lookback_days,
                    server_side_filter=server_side_filter,
                    compatible_server=compatible_server,
                    loaded_at=stamp,
                )
                con.execute("commit")
                committed = True
            except _EndpointMissing:
                log.warning("stripe %s: no list endpoint on this server (404)", object_type)
                summary.unsupported.append(object_type)
                continue
            except Exception as exc:
                failure = _describe(exc, api_key)
            finally:  # also on KeyboardInterrupt: never leave the transaction open
                if not committed:
                    _rollback(con)
            if failure is not None:
                log.error("stripe %s: pull failed, nothing committed", object_type)
                # Raised outside the except block, so no chained exception carries unscrubbed text.
                raise StripePullError(
                    f"Stripe pull of {object_type} failed and was rolled back (nothing committed, "
                    f"cursor left at {cursor_before}): {failure}",
                    object_type=object_type,
                    summary=summary,
                )
            summary.pulls.append(pull)
            log.info(
                "stripe %s: %d page(s), %d read, %d loaded, %d unchanged, %d rejected",
                object_type,
                pull.pages,
                pull.rows_read,
                pull.rows_loaded,
                pull.rows_unchanged,
                pull.rows_rejected,
            )
    return summary


def pull_stripe_from_env(
    con: duckdb.DuckDBPyConnection, api_key: str | None = None
) -> StripePullSummary | None:
    """Pull with ``STRIPE_API_KEY`` (or the key given, e.g. from a Prefect Secret block) and
    ``STRIPE_API_BASE``, ``STRIPE_LOOKBACK_DAYS`` from the environment; ``None`` when there is
    no key (Stripe then comes from landing files only)."""
    api_key = (api_key or os.environ.get("STRIPE_API_KEY", "")).strip()
    if not api_key:
        return None
    api_base = os.environ.get("STRIPE_API_BASE", "").strip() or None
    lookback = os.environ.get("STRIPE_LOOKBACK_DAYS", "").strip()
    try:
        lookback_days = int(lookback) if lookback else 45
    except ValueError:
        raise StripePullError(
            f"STRIPE_LOOKBACK_DAYS must be a whole number of days, got {lookback!r}"
        ) from None
    return pull_stripe(con, api_key=api_key, api_base=api_base, lookback_days=lookback_days)
