"""Stripe through the API, end to end: a nightly run pulls from a Stripe-compatible server
(localstripe on loopback) and the pulled objects go through the same staging models as JSONL
files, into paid events, commissions and clawbacks."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import stripe

from flows.nightly import nightly_settlement
from tests.conftest_stripe import LocalStripe

KEY = "sk_test_nightly_0000000000"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_nightly_run_pulls_stripe_through_the_api(
    prefect_harness, example: Path, tmp_path: Path, monkeypatch
) -> None:
    server = LocalStripe(tmp_path / "localstripe.log")
    try:
        client = stripe.StripeClient(KEY, base_addresses={"api": server.url})
        card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
        method = client.v1.payment_methods.create(params={"type": "card", "card": card})
        customer = client.v1.customers.create(
            params={
                "email": "api.customer@example.com",
                "metadata": {"affitor_customer_key": "cust_api", "program_id": "prog_lumen"},
                "payment_method": method.id,
                "invoice_settings": {"default_payment_method": method.id},
            }
        )
        product = client.v1.products.create(params={"name": "Pro"})
        plan = client.v1.plans.create(
            params={"amount": 10000, "currency": "eur", "interval": "month", "product": product.id}
        )
        client.v1.subscriptions.create(
            params={"customer": customer.id, "items": [{"plan": plan.id}]}
        )
        one_off = client.v1.charges.create(
            params={"amount": 5000, "currency": "eur", "customer": customer.id}
        )
        client.v1.refunds.create(params={"charge": one_off.id, "amount": 1000})

        # tracking: the example's partners, and a click by Mira that the signup names
        now = datetime.now(UTC)
        landing = tmp_path / "landing"
        shutil.copytree(
            example / "landing" / "tracking" / "partners", landing / "tracking" / "partners"
        )
        (landing / "tracking" / "clicks").mkdir(parents=True)
        (landing / "tracking" / "clicks" / "clicks.csv").write_text(
            "click_id,program_id,partner_code,occurred_at,visitor_id,landing_url\n"
            f"clk_api,prog_lumen,mira,{_iso(now - timedelta(hours=2))},v_api,https://x.example/\n"
        )
        (landing / "tracking" / "signups").mkdir(parents=True)
        (landing / "tracking" / "signups" / "signups.csv").write_text(
            "program_id,customer_key,email,occurred_at,click_id,visitor_id\n"
            f"prog_lumen,cust_api,api.customer@example.com,{_iso(now - timedelta(hours=1))},clk_api,\n"
        )

        # the key from a Prefect Secret block (STRIPE_API_KEY is covered by test_stripe_api.py)
        from prefect.blocks.system import Secret

        Secret(value=KEY).save("stripe-nightly-test", overwrite=True)
        monkeypatch.delenv("STRIPE_API_KEY", raising=False)
        monkeypatch.setenv("PARTNER_LEDGER_STRIPE_SECRET_BLOCK", "stripe-nightly-test")
        monkeypatch.setenv("STRIPE_API_BASE", server.url)
        warehouse = tmp_path / "warehouse" / "partner_ledger.duckdb"
        summary = nightly_settlement(
            as_of=(now + timedelta(days=1)).date(),
            landing=landing,
            rules=example / "rules",
            warehouse=warehouse,
            out=tmp_path / "out",
        )
        assert summary["stripe_api_objects"] > 0
        written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".log"]
        assert not any(KEY.encode() in p.read_bytes() for p in written)
    finally:
        server.stop()

    con = duckdb.connect(str(warehouse), read_only=True)
    landed = dict(
        con.execute("select object_type, count(*) from raw.stripe_objects group by 1").fetchall()
    )
    assert landed.get("customers") == 1 and landed.get("refunds") == 1
    events = con.execute(
        "select paid_event_type, paid_event_id, customer_key, basis_cents "
        "from intermediate.int_paid_events_numbered order by paid_at, paid_event_id"
    ).fetchall()
    kinds = [event[0] for event in events]
    # the invoice is a paid event; the invoice's own charge is not; the one-off charge is
    assert kinds.count("invoice") == 1 and kinds.count("charge") == 1
    assert all(event[2] == "cust_api" for event in events)
    assert ("charge", one_off.id, "cust_api", 5000) in events
    entries = con.execute(
        "select entry_type, partner_id, amount_cents from fct_ledger_entries order by 1, 3"
    ).fetchall()
    # Mira's click won: intro rate 3500 bps on 10000 and 5000; the 1000 refund claws back 20 %
    assert ("commission", "pt_mira", 1750) in entries
    assert ("commission", "pt_mira", 3500) in entries
    assert ("clawback", "pt_mira", -350) in entries
