"""Deterministic demo landing data for the two default programs (SPEC §1.1, §1.2).

``generate_demo_landing`` writes a landing directory that looks like a year of two real partner
programs, ``prog_eur`` (EUR, the default program) and ``prog_usd`` (USD), matching the rules in
``seeds/``:

- ``tracking/<table>/*.csv`` (some ``.csv.gz``): partners (plus a later version file with status
  changes and fixed payout details), coupons, clicks (one file per month and a late file),
  leads, signups, Sale API sales and finance adjustments (plus a re-delivery);
- ``stripe/{customers,invoices,charges,refunds,disputes}.jsonl``: Stripe objects in the API's JSON
  shape, a later line with the same ``id`` superseding an earlier one (invoice retries, refund
  and dispute status changes).

The data carries the cases the settlement rules care about: recruited, suspended and terminated
partners, missing and invalid payout details, multi-touch journeys inside and outside the
attribution windows, self-referrals, coupons, customers found only by email or by Stripe id,
cross-currency payments, partial/full/failed/canceled/pending refunds, won and lost disputes, and
about 0.2-0.5 % malformed rows that the loader must quarantine.

Everything is drawn from generators seeded by ``seed`` (``random.Random`` for the Python part,
``numpy.random.Generator`` for the vectorised clicks), so the same ``seed`` and ``scale`` give
byte-identical files. Clicks are generated and written in chunks of at most ~1M rows, so large
scales (tens of millions of clicks) never hold all rows in memory.

This module is the entry point; the rest of the package by concern: ``shape`` (the programs'
shapes and names), ``context`` (the generation context, small helpers), ``partners`` (partners,
payout details, coupons), ``journeys`` (signups and the clicks and leads that convert),
``clicks`` (every click, chunked), ``tracking`` (the other tracking files, adjustments) and
``billing`` (Stripe objects and Sale API rows). Payout details are made valid or invalid by the
engine's own check (``partner_ledger.rules.payout_details``).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from partner_ledger.demo.billing import _make_stripe, _write_sales, _write_stripe
from partner_ledger.demo.clicks import _write_clicks
from partner_ledger.demo.context import _add_months, _Ctx, _ts
from partner_ledger.demo.journeys import _make_background_leads, _make_journeys
from partner_ledger.demo.partners import _make_coupons, _make_partners
from partner_ledger.demo.shape import PROGRAMS, DemoStats
from partner_ledger.demo.tracking import (
    _write_adjustments,
    _write_coupons,
    _write_leads,
    _write_partners,
    _write_signups,
)


def generate_demo_landing(
    landing: Path,
    *,
    seed: int = 20250101,
    scale: int = 1,
    start: date = date(2025, 1, 1),
    months: int = 12,
    customer_scale: int | None = None,
) -> DemoStats:
    """Write a demo landing directory for ``prog_eur`` and ``prog_usd`` and return its counts.

    ``scale`` multiplies partners, visitors, clicks, customers and the rest; the shape stays the
    same. ``customer_scale`` multiplies the signups (and so the customers and their Stripe
    history) instead, for benchmarks that need more customers per click than the demo has.
    Files are (over)written in place; other files under ``landing`` are left alone. The same
    arguments give byte-identical files.
    """
    if scale < 1 or months < 1 or (customer_scale is not None and customer_scale < 1):
        raise ValueError(
            f"scale, customer_scale and months must be >= 1, got scale={scale} "
            f"customer_scale={customer_scale} months={months}"
        )
    end = _add_months(start, months)
    ctx = _Ctx(
        Path(landing), seed, scale, months, _ts(start), _ts(end), customer_scale=customer_scale or 0
    )
    expected_clicks = sum(s.clicks_per_day for s in PROGRAMS) * scale * (end - start).days
    ctx.visitor_pool = max(1, round(expected_clicks / 1.7))
    _make_partners(ctx)
    _make_coupons(ctx)
    _make_journeys(ctx)
    _make_background_leads(ctx)
    _write_clicks(ctx)
    _write_partners(ctx)
    _write_coupons(ctx)
    _write_leads(ctx)
    _write_signups(ctx)
    _write_stripe(ctx, _make_stripe(ctx))
    _write_sales(ctx)
    _write_adjustments(ctx)
    counts = ctx.counts
    return DemoStats(
        partners=counts["partners"],
        partner_rows=counts["partner_rows"],
        coupons=counts["coupons"],
        clicks=counts["clicks"],
        late_clicks=counts["late_clicks"],
        redelivered_clicks=counts.get("redelivered_clicks", 0),
        leads=counts["leads"],
        signups=counts["signups"],
        customers=counts.get("customers", 0),
        stripe_customers=counts.get("stripe_customers", 0),
        invoices=counts.get("invoices", 0),
        charges=counts.get("charges", 0),
        refunds=counts.get("refunds", 0),
        disputes=counts.get("disputes", 0),
        sales=counts["sales"],
        adjustments=counts["adjustments"],
        malformed_rows=counts["malformed_rows"],
        files=counts["files"],
        first_day=start,
        last_day=end - timedelta(days=1),
    )
