"""partner_ledger/io/stripe_api.py against localstripe (customers, subscriptions, invoices, charges, refunds)
and against recorded API responses (disputes, checkout sessions, which localstripe lacks)."""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stripe
import stripe._http_client
import stripe._util

from partner_ledger.io import stripe_api
from partner_ledger.io.stripe_api import StripePullError, pull_stripe, pull_stripe_from_env
from partner_ledger.io.warehouse import connect, ensure_raw_schema
from tests.conftest_stripe import FakeStripeAPI, FlakyProxy, LocalStripe, free_port

KEY = "sk_test_canary_0123456789abcdef"
LOCALSTRIPE_TYPES = ["customers", "subscriptions", "invoices", "charges", "refunds"]


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def localstripe_server(tmp_path_factory: pytest.TempPathFactory):
    server = LocalStripe(tmp_path_factory.mktemp("localstripe") / "localstripe.log")
    yield server
    server.stop()


@pytest.fixture
def ls(localstripe_server: LocalStripe) -> LocalStripe:
    localstripe_server.flush()
    return localstripe_server


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same retry counts, shorter sleeps: the SDK's 5xx/connection back-off and our 429 one."""
    monkeypatch.setattr(stripe._http_client.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe._http_client.HTTPClient, "MAX_DELAY", 0.02)
    monkeypatch.setattr(stripe_api, "RATE_LIMIT_BASE_DELAY", 0.01)


@pytest.fixture
def con(tmp_path: Path):
    connection = connect(tmp_path / "warehouse.duckdb")
    ensure_raw_schema(connection)
    yield connection
    connection.close()


@pytest.fixture
def fake_api():
    with FakeStripeAPI() as api:
        yield api


def sdk(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": url})


def add_customer(client: stripe.StripeClient, n: int, program: str = "prog_us"):
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    pm = client.v1.payment_methods.create(params={"type": "card", "card": card})
    return client.v1.customers.create(
        params={
            "email": f"customer{n}@example.com",
            "metadata": {"affitor_customer_key": f"ck_{n}", "program_id": program},
            "payment_method": pm.id,
            "invoice_settings": {"default_payment_method": pm.id},
        }
    )


def seed(client: stripe.StripeClient) -> dict[str, str]:
    """Two customers with a subscription each (first invoices paid), a draft invoice for bob's
    next period, and a partly refunded one-off charge: 2 customers, 2 subscriptions, 3 invoices,
    3 charges, 1 refund."""
    alice = add_customer(client, 1)
    bob = add_customer(client, 2, program="prog_eu")
    product = client.v1.products.create(params={"name": "Pro"})
    plan = client.v1.plans.create(
        params={"amount": 2900, "currency": "usd", "interval": "month", "product": product.id}
    )
    sub = client.v1.subscriptions.create(
        params={"customer": alice.id, "items": [{"plan": plan.id}], "metadata": {"x": "1"}}
    )
    client.v1.subscriptions.create(params={"customer": bob.id, "items": [{"plan": plan.id}]})
    # localstripe only drafts invoices for a subscription: bob's next one, plus an extra item
    client.v1.invoice_items.create(params={"customer": bob.id, "amount": 1200, "currency": "usd"})
    draft = client.v1.invoices.create(params={"customer": bob.id})
    charge = client.v1.charges.create(
        params={"amount": 5000, "currency": "eur", "customer": bob.id}
    )
    refund = client.v1.refunds.create(params={"charge": charge.id, "amount": 1000})
    return {
        "alice": alice.id,
        "bob": bob.id,
        "subscription": sub.id,
        "draft_invoice": draft.id,
        "charge": charge.id,
        "refund": refund.id,
    }


def api_list(url: str, path: str) -> list[dict]:
    """What the server itself lists (raw JSON), to compare bodies with."""
    response = sdk(url).raw_request("get", path, limit=100)
    return json.loads(response.body)["data"]


def rows(con, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def latest_bodies(con, object_type: str) -> dict[str, dict]:
    """The dbt staging rule: newest version per id by (delivery_seq desc, line_no desc)."""
    found = rows(
        con,
        """
        select object_id, body from raw.stripe_objects where object_type = ?
        qualify row_number() over (
            partition by object_id order by delivery_seq desc, line_no desc) = 1
        """,
        [object_type],
    )
    return {object_id: json.loads(body) for object_id, body in found}


def snapshot(con) -> tuple:
    return (
        rows(con, "select * from raw.stripe_objects order by delivery_seq, line_no"),
        rows(con, "select * from raw.load_manifest order by delivery_seq"),
        rows(con, "select * from raw.stripe_cursors order by object_type"),
    )


# --------------------------------------------------------------------------------------------
# localstripe


def test_first_pull_lands_every_object_type(ls: LocalStripe, con) -> None:
    ids = seed(sdk(ls.url))
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    summary = pull_stripe(con, api_key=KEY, api_base=ls.url, now=now)

    assert [p.object_type for p in summary.pulls] == LOCALSTRIPE_TYPES
    assert summary.unsupported == ["disputes", "checkout_sessions"]  # localstripe: 404
    counts = {p.object_type: p.rows_loaded for p in summary.pulls}
    assert counts == {"customers": 2, "subscriptions": 2, "invoices": 3, "charges": 3, "refunds": 1}

    for pull in summary.pulls:
        path = f"/v1/{pull.object_type}"
        served = {obj["id"]: obj for obj in api_list(ls.url, path)}
        landed = rows(
            con,
            "select delivery_seq, file_path, line_no, object_id, body from raw.stripe_objects "
            "where object_type = ? order by line_no",
            [pull.object_type],
        )
        assert {r[0] for r in landed} == {pull.delivery_seq}
        assert {r[1] for r in landed} == {f"api:{pull.object_type}"}
        assert [r[2] for r in landed] == list(range(1, len(landed) + 1))
        assert {r[3]: json.loads(r[4]) for r in landed} == served  # the API's own JSON
        manifest = rows(
            con, "select * from raw.load_manifest where delivery_seq = ?", [pull.delivery_seq]
        )
        sha = hashlib.sha256("".join(r[4] for r in landed).encode()).hexdigest()
        n = len(landed)
        stamp = datetime(2030, 1, 2, 3, 4, 5)
        assert manifest == [
            (
                pull.delivery_seq,
                "stripe_api",
                pull.object_type,
                f"api:{pull.object_type}",
                sha,
                n,
                n,
                0,
                stamp,
            )
        ]
        cursor = rows(
            con, "select * from raw.stripe_cursors where object_type = ?", [pull.object_type]
        )
        assert cursor == [(pull.object_type, max(o["created"] for o in served.values()), stamp)]

    customers = latest_bodies(con, "customers")
    assert customers[ids["alice"]]["metadata"] == {
        "affitor_customer_key": "ck_1",
        "program_id": "prog_us",
    }
    invoices = latest_bodies(con, "invoices")
    assert invoices[ids["draft_invoice"]]["status"] == "draft"
    assert {i["status"] for i in invoices.values()} == {"draft", "paid"}
    # one delivery_seq per pull; disputes / checkout sessions left no manifest row
    assert rows(con, "select count(*), count(distinct delivery_seq) from raw.load_manifest") == [
        (5, 5)
    ]


def test_second_pull_adds_only_new_and_changed_objects(ls: LocalStripe, con) -> None:
    client = sdk(ls.url)
    ids = seed(client)
    first = pull_stripe(con, api_key=KEY, api_base=ls.url)

    carol = add_customer(client, 3)  # new
    refund2 = client.v1.refunds.create(params={"charge": ids["charge"], "amount": 500})  # new
    client.v1.invoices.pay(ids["draft_invoice"])  # draft -> paid: changes after creation
    second = pull_stripe(con, api_key=KEY, api_base=ls.url)

    loaded = {p.object_type: p.rows_loaded for p in second.pulls}
    assert loaded["customers"] == 1  # carol
    assert loaded["subscriptions"] == 0
    assert loaded["invoices"] == 1  # the now-paid invoice, re-pulled over the look-back window
    assert loaded["refunds"] == 1  # refund2
    # the refunded charge changed (amount_refunded), and paying the invoice made a new charge
    assert loaded["charges"] == 2
    added = rows(
        con,
        "select object_type, object_id from raw.stripe_objects where delivery_seq > ? "
        "order by object_type, object_id",
        [max(p.delivery_seq for p in first.pulls)],
    )
    assert len(added) == sum(loaded.values())
    assert ("customers", carol.id) in added and ("refunds", refund2.id) in added
    assert ("invoices", ids["draft_invoice"]) in added
    assert ("charges", ids["charge"]) in added
    assert not [a for a in added if a[0] in ("subscriptions",)]
    # manifests count what was read vs loaded; the rest was unchanged
    customers = second.pull("customers")
    assert (customers.rows_read, customers.rows_loaded, customers.rows_unchanged) == (3, 1, 2)
    # the newest version wins downstream
    assert latest_bodies(con, "invoices")[ids["draft_invoice"]]["status"] == "paid"
    assert latest_bodies(con, "charges")[ids["charge"]]["amount_refunded"] == 1500
    # the look-back / overlap window was computed from the cursor
    cursor = first.pull("invoices").cursor_after
    assert second.pull("invoices").created_gte == cursor - 45 * 86400
    assert second.pull("customers").created_gte == (
        first.pull("customers").cursor_after - stripe_api.CURSOR_OVERLAP_SECONDS
    )

    third = pull_stripe(con, api_key=KEY, api_base=ls.url)  # nothing changed
    assert third.rows_loaded == 0
    empty_sha = hashlib.sha256(b"").hexdigest()
    assert rows(
        con,
        "select count(*) from raw.load_manifest where delivery_seq >= ? and sha256 = ? "
        "and rows_loaded = 0",
        [min(p.delivery_seq for p in third.pulls), empty_sha],
    ) == [(5,)]


def test_pagination_follows_has_more(ls: LocalStripe, con, monkeypatch) -> None:
    client = sdk(ls.url)
    made = {add_customer(client, n).id for n in range(5)}
    monkeypatch.setattr(stripe_api, "PAGE_SIZE", 2)

    summary = pull_stripe(con, api_key=KEY, api_base=ls.url, object_types=["customers"])

    assert summary.pull("customers").pages == 3
    landed = rows(con, "select line_no, object_id from raw.stripe_objects order by line_no")
    assert [r[0] for r in landed] == [1, 2, 3, 4, 5]
    assert {r[1] for r in landed} == made


def test_outage_mid_pull_rolls_back_and_keeps_cursor(ls: LocalStripe, con, monkeypatch) -> None:
    client = sdk(ls.url)
    seed(client)
    pull_stripe(con, api_key=KEY, api_base=ls.url)
    before = snapshot(con)
    for n in range(3, 6):
        add_customer(client, n)
    monkeypatch.setattr(stripe_api, "PAGE_SIZE", 2)  # 5 customers = 3 pages

    # page 1 of customers goes through, page 2 answers 500 every time
    def second_customer_page(path: str) -> bool:
        return path.startswith("/v1/customers?") and "starting_after" in path

    with FlakyProxy(ls.url, second_customer_page) as proxy:
        with pytest.raises(StripePullError) as caught:
            pull_stripe(con, api_key=KEY, api_base=proxy.url)

    assert len(proxy.failed) == 1 + stripe_api.MAX_NETWORK_RETRIES  # the SDK retried 3 times
    assert any(p.startswith("/v1/customers?") for p in proxy.forwarded)  # page 1 was read
    message = str(caught.value)
    assert "Stripe pull of customers failed" in message
    assert "HTTP 500" in message and "rolled back" in message
    assert KEY not in message and KEY not in repr(caught.value)
    assert caught.value.object_type == "customers"
    assert snapshot(con) == before  # no rows, no manifest, cursor unchanged

    # after the outage the same pull completes and picks up the new customers
    after = pull_stripe(con, api_key=KEY, api_base=ls.url)
    assert after.pull("customers").rows_loaded == 3


def test_dropped_connection_in_a_later_type_keeps_earlier_commits(ls: LocalStripe, con) -> None:
    client = sdk(ls.url)
    ids = seed(client)
    pull_stripe(con, api_key=KEY, api_base=ls.url)
    refunds_before = rows(con, "select * from raw.stripe_cursors where object_type = 'refunds'")
    add_customer(client, 9)
    client.v1.refunds.create(params={"charge": ids["charge"], "amount": 100})

    with FlakyProxy(ls.url, lambda path: path.startswith("/v1/refunds"), mode="reset") as proxy:
        with pytest.raises(StripePullError) as caught:
            pull_stripe(con, api_key=KEY, api_base=proxy.url)

    error = caught.value
    assert error.object_type == "refunds"
    assert "could not reach the Stripe API" in str(error)
    assert [p.object_type for p in error.summary.pulls] == LOCALSTRIPE_TYPES[:4]
    assert error.summary.pull("customers").rows_loaded == 1  # committed before the failure
    assert rows(con, "select * from raw.stripe_cursors where object_type = 'refunds'") == (
        refunds_before
    )
    assert rows(con, "select count(*) from raw.stripe_objects where object_type = 'refunds'") == [
        (1,)
    ]


def test_connection_refused_is_a_clear_error(con) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StripePullError) as caught:
        pull_stripe(con, api_key=KEY, api_base=closed)
    message = str(caught.value)
    assert message.startswith("Stripe pull of customers failed and was rolled back")
    assert "could not reach the Stripe API" in message and KEY not in message
    assert rows(con, "select count(*) from raw.load_manifest") == [(0,)]
    assert rows(con, "select count(*) from raw.stripe_cursors") == [(0,)]


# --------------------------------------------------------------------------------------------
# recorded responses (disputes, checkout sessions)


def test_recorded_disputes_and_checkout_sessions_land(fake_api: FakeStripeAPI, con) -> None:
    summary = pull_stripe(con, api_key=KEY, api_base=fake_api.url)

    assert summary.unsupported == []
    for object_type, path in (
        ("disputes", "/v1/disputes"),
        ("checkout_sessions", "/v1/checkout/sessions"),
    ):
        pull = summary.pull(object_type)
        assert pull.pages == 2 and pull.rows_loaded == 3
        queries = fake_api.requests_for(path)
        assert [q.get("starting_after") for q in queries] == [
            None,
            fake_api.pages[path][0]["data"][-1]["id"],
        ]
        assert all(q["limit"] == "100" for q in queries)
        landed = rows(
            con,
            "select object_id, body from raw.stripe_objects where object_type = ? order by line_no",
            [object_type],
        )
        assert [json.loads(body) for _, body in landed] == fake_api.objects(path)
        assert rows(
            con, "select created_gte from raw.stripe_cursors where object_type = ?", [object_type]
        ) == [(max(o["created"] for o in fake_api.objects(path)),)]
    # non-ASCII survives as text
    assert (
        "李伟"
        in latest_bodies(con, "checkout_sessions")["cs_test_a1FixtureSession000003"][
            "customer_details"
        ]["name"]
    )
    assert summary.pull("customers").rows_read == 0  # empty lists still get a manifest row


def test_lookback_window_and_changed_dispute(fake_api: FakeStripeAPI, con) -> None:
    pull_stripe(con, api_key=KEY, api_base=fake_api.url)
    cursor = max(o["created"] for o in fake_api.objects("/v1/disputes"))
    fake_api.pages["/v1/disputes"][0]["data"][0]["status"] = "won"  # decided later
    fake_api.requests.clear()

    # a compatible server: the window is applied client-side (nothing sent to the server)
    second = pull_stripe(con, api_key=KEY, api_base=fake_api.url)
    disputes = second.pull("disputes")
    assert "created[gte]" not in fake_api.requests_for("/v1/disputes")[0]
    assert disputes.created_gte == cursor - 45 * 86400
    assert disputes.rows_read == 2  # dp_...Old is older than the window
    assert disputes.rows_loaded == 1
    assert latest_bodies(con, "disputes")["dp_1QfixtureNew000001"]["status"] == "won"

    # server-side filtering sends created[gte] (what happens against api.stripe.com)
    fake_api.requests.clear()
    fake_api.honor_created = True
    third = pull_stripe(
        con, api_key=KEY, api_base=fake_api.url, server_side_filter=True, lookback_days=10
    )
    query = fake_api.requests_for("/v1/disputes")[0]
    assert query["created[gte]"] == str(cursor - 10 * 86400)
    assert third.pull("disputes").rows_read == 1 and third.rows_loaded == 0
    assert "created[gte]" not in fake_api.requests_for("/v1/customers")[0]  # no cursor yet


def test_rate_limit_is_retried_then_reported(fake_api: FakeStripeAPI, con) -> None:
    fake_api.rate_limited["/v1/disputes"] = 2
    summary = pull_stripe(con, api_key=KEY, api_base=fake_api.url, object_types=["disputes"])
    assert summary.pull("disputes").rows_loaded == 3
    assert len(fake_api.requests_for("/v1/disputes")) == 2 + 2  # 2 x 429, then both pages

    fake_api.rate_limited["/v1/checkout/sessions"] = 99
    with pytest.raises(StripePullError) as caught:
        pull_stripe(con, api_key=KEY, api_base=fake_api.url, object_types=["checkout_sessions"])
    assert "rate limiting (HTTP 429)" in str(caught.value)
    assert len(fake_api.requests_for("/v1/checkout/sessions")) == 1 + 3
    assert rows(con, "select count(*) from raw.stripe_cursors") == [(1,)]  # disputes only


def test_interrupt_mid_pull_leaves_no_open_transaction(
    fake_api: FakeStripeAPI, con, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = stripe_api._raw_objects
    calls = []

    def interrupted(page):
        calls.append(page)
        if len(calls) == 2:  # page 2 of disputes
            raise KeyboardInterrupt
        return real(page)

    monkeypatch.setattr(stripe_api, "_raw_objects", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pull_stripe(con, api_key=KEY, api_base=fake_api.url, object_types=["disputes"])
    con.execute("begin transaction")  # would fail if the pull had left one open
    con.execute("rollback")
    assert snapshot(con) == ([], [], [])


# --------------------------------------------------------------------------------------------
# secrets


def test_canary_key_never_leaks(
    ls: LocalStripe,
    fake_api: FakeStripeAPI,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    canary = f"sk_test_CANARY_{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="stripe")
    caplog.set_level(logging.DEBUG, logger="partner_ledger.io.stripe_api")
    monkeypatch.setattr(stripe, "log", "debug")  # the SDK's own console logging, too,
    monkeypatch.setattr(stripe._util, "STRIPE_LOG", "debug")  # as if STRIPE_LOG=debug were set
    seed(stripe.StripeClient(canary, base_addresses={"api": ls.url}))
    caplog.clear()  # from here on, only what the pulls log
    capsys.readouterr()
    db_path = tmp_path / "canary.duckdb"
    con = connect(db_path)
    errors: list[StripePullError] = []

    monkeypatch.setenv("STRIPE_API_KEY", canary)
    monkeypatch.setenv("STRIPE_API_BASE", ls.url)
    ok = pull_stripe_from_env(con)  # a successful pull
    assert ok is not None and ok.rows_loaded == ok.objects == 11

    fake_api.echo_key_401 = True  # a server that puts the key into its error message
    with pytest.raises(StripePullError) as caught:
        pull_stripe(con, api_key=canary, api_base=fake_api.url)
    errors.append(caught.value)
    assert canary in fake_api.keys_seen  # the key really was sent, and echoed
    assert "***" in str(caught.value) and "HTTP 401" in str(caught.value)

    with pytest.raises(StripePullError) as caught:  # connection refused
        pull_stripe(con, api_key=canary, api_base=f"http://127.0.0.1:{free_port()}")
    errors.append(caught.value)
    con.close()

    captured = capsys.readouterr()
    texts = {
        "log": caplog.text,
        "log records": "\n".join(
            f"{r.getMessage()} {r.args!r} {r.exc_text}" for r in caplog.records
        ),
        "stdout": captured.out,
        "stderr": captured.err,
    }
    for n, error in enumerate(errors):
        texts[f"error {n}"] = "".join(traceback.format_exception(error)) + repr(error)
    assert "Request to Stripe api" not in caplog.text  # the SDK's logging was held back
    assert "stripe customers: 1 page(s), 2 read, 2 loaded" in caplog.text  # ours: counts only
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            texts[f"file {path.name}"] = path.read_bytes().decode("latin-1")
    texts["localstripe log"] = ls.log_path.read_bytes().decode("latin-1")
    check = connect(db_path, read_only=True)
    for schema, table in check.execute(
        "select schema_name, table_name from duckdb_tables()"
    ).fetchall():
        texts[f"table {schema}.{table}"] = "\n".join(
            str(row) for row in check.execute(f'select * from "{schema}"."{table}"').fetchall()
        )
    check.close()

    assert "table raw.stripe_objects" in texts and "file canary.duckdb" in texts
    leaks = {
        where: [line[:300] for line in text.splitlines() if canary in line]
        for where, text in texts.items()
        if canary in text
    }
    assert leaks == {}


# --------------------------------------------------------------------------------------------
# entry points


def test_pull_stripe_from_env(ls: LocalStripe, con, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    assert pull_stripe_from_env(con) is None
    seed(sdk(ls.url))
    monkeypatch.setenv("STRIPE_API_KEY", KEY)
    monkeypatch.setenv("STRIPE_API_BASE", ls.url)
    monkeypatch.setenv("STRIPE_LOOKBACK_DAYS", "7")
    summary = pull_stripe_from_env(con)
    assert summary is not None and summary.rows_loaded == 11
    second = pull_stripe_from_env(con)
    assert second.pull("invoices").created_gte == summary.pull("invoices").cursor_after - 7 * 86400
    monkeypatch.setenv("STRIPE_LOOKBACK_DAYS", "soon")
    with pytest.raises(StripePullError, match="STRIPE_LOOKBACK_DAYS"):
        pull_stripe_from_env(con)


def test_bad_arguments(con) -> None:
    with pytest.raises(StripePullError, match="needs an API key"):
        pull_stripe(con, api_key=" ")
    with pytest.raises(StripePullError, match="unknown Stripe object types"):
        pull_stripe(con, api_key=KEY, api_base="http://127.0.0.1:9", object_types=["payouts"])
