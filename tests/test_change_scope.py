"""A scoped model recomputes only what changed and gives what a full build gives (issue 11,
docs/decisions/0026).

The scoped models (`int_stripe_charges_linked`, `int_paid_events_resolved`,
`int_paid_events_numbered`, `int_paid_events_attributed`, `fct_paid_events`, `fct_ledger_entries`,
`dim_customers`, and the tiers, commissions and expected ledger; the signups', leads' and sales'
versions, by key) keep the previous build's rows and recompute the keys their inputs touched since
(macros/change_scope.sql). Here a generated program is built night by night while Stripe objects
arrive as the API delivers them (a few new versions at a time, not whole files) and tracking files
arrive late, each delivery aimed at one reason a row can change: an invoice that names another
charge or none (the charge's link moves), a new invoice naming an invoice-less charge (that charge
stops being a paid event), invoice and charge metadata that route elsewhere, a Stripe customer with
another email and no metadata (identity by email), a customer that is no longer visible, earlier
signups for an email (the earliest signup decides the customer key), a new version of a sale,
refunds whose check moves (a late refund, a refunded sale's new currency, a refund of a sale not
yet visible); and,
for the marts, the ledger entries each night appends (1 May runs twice: the second run appends
under the same date) and the winning touches late clicks change. Before each night the warehouse is
copied and the copy builds the scoped models in full; both build the whole graph, and after the
night every table of the two is compared row for row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from partner_ledger.config import DEFAULTS
from partner_ledger.demo import generate_demo_landing
from partner_ledger.io.ingest import ingest_landing
from partner_ledger.io.warehouse import TRACKING_COLUMNS, connect, ensure_raw_schema
from partner_ledger.rules.load import load_rules
from partner_ledger.settle.dbt import dbt_build
from tests.conftest import warehouse_differences

SCOPED = (
    "intermediate.int_customers_identified",
    "intermediate.int_touch_candidates",
    "intermediate.int_customers_attributed",
    "main.fct_attributions",
    "intermediate.int_stripe_charges_linked",
    "intermediate.int_paid_events_resolved",
    "intermediate.int_paid_events_numbered",
    "intermediate.int_paid_events_attributed",
    "main.fct_paid_events",
    "main.fct_ledger_entries",
    "main.dim_customers",
    "intermediate.int_ledger_entries_expected",
    "intermediate.int_commissions_computed",
    "intermediate.int_signups_validated",
    "intermediate.int_leads_validated",
    "intermediate.int_sales_validated",
    "intermediate.int_clicks_quarantined",
)
# 2 May twice: the night run again after more deliveries (the ledger appends under the same date)
NIGHTS = (date(2025, 4, 1), date(2025, 5, 1), date(2025, 5, 2), date(2025, 5, 2), date(2025, 7, 1))
# the whole graph: the mart reads the ledger, and the ledger stores append the same on both sides
SELECT = None
WAREHOUSE = "partner_ledger.duckdb"


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp())


def _latest(con: duckdb.DuckDBPyConnection, object_type: str) -> list[dict]:
    rows = con.execute(
        """
        select body from raw.stripe_objects
        where object_type = ?
        qualify row_number() over (
            partition by object_id order by delivery_seq desc, line_no desc
        ) = 1
        order by object_id
        """,
        [object_type],
    ).fetchall()
    return [json.loads(body) for (body,) in rows]


def _deliver(con: duckdb.DuckDBPyConnection, object_type: str, bodies: list[dict]) -> int:
    """New versions of Stripe objects, loaded as one API delivery (io/stripe_api.py does the same)."""
    seq = int(con.execute("select nextval('raw.delivery_seq')").fetchone()[0])
    path = f"api:{object_type}"
    lines = [json.dumps(body) for body in bodies]
    con.executemany(
        "insert into raw.stripe_objects values (?, ?, ?, ?, ?, ?)",
        [
            (seq, path, n, object_type, body["id"], line)
            for n, (body, line) in enumerate(zip(bodies, lines, strict=True), 1)
        ],
    )
    digest = hashlib.sha256("".join(lines).encode()).hexdigest()
    con.execute(
        "insert into raw.load_manifest values (?, 'stripe_api', ?, ?, ?, ?, ?, 0, now()::timestamp)",
        [seq, object_type, path, digest, len(lines), len(lines)],
    )
    return seq


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _own_key(invoice: dict) -> str | None:
    """The customer key an invoice carries itself (its or its subscription's metadata)."""
    subscription = (invoice.get("subscription_details") or {}).get("metadata") or {}
    return (invoice.get("metadata") or {}).get("affitor_customer_key") or subscription.get(
        "affitor_customer_key"
    )


def _stripe_changes(
    con: duckdb.DuckDBPyConnection, rng: random.Random, night: date
) -> dict[str, int]:
    """Deliver new versions aimed at every reason an event's row can change; return counts."""
    invoices = _latest(con, "invoices")
    charges = _latest(con, "charges")
    customers = _latest(con, "customers")
    named = {inv["charge"] for inv in invoices if isinstance(inv.get("charge"), str)}
    standalone = [ch for ch in charges if ch["id"] not in named and not ch.get("invoice")]
    with_charge = [inv for inv in invoices if isinstance(inv.get("charge"), str)]
    rng.shuffle(with_charge)
    rng.shuffle(standalone)
    changed_invoices: list[dict] = []
    # the charge moves to another invoice's charge, or to none
    for inv, other in zip(with_charge[:6], with_charge[6:12], strict=True):
        changed_invoices.append({**inv, "charge": other["charge"]})
    for inv in with_charge[12:16]:
        changed_invoices.append({**inv, "charge": None})
    # metadata that routes the invoice elsewhere, and an invoice voided
    for inv in with_charge[16:20]:
        changed_invoices.append({**inv, "metadata": {"affitor_customer_key": f"moved_{inv['id']}"}})
    for inv in with_charge[20:22]:
        changed_invoices.append({**inv, "status": "void"})
    # a new invoice naming an invoice-less charge: the charge is no longer a paid event
    for n, charge in enumerate(standalone[:3]):
        template = with_charge[30 + n]
        changed_invoices.append(
            {
                **template,
                "id": f"in_scope_{night:%Y%m%d}_{n}",
                "customer": charge.get("customer"),
                "charge": charge["id"],
                "status_transitions": {"paid_at": _epoch(night) - 86400 * 3},
            }
        )
    _deliver(con, "invoices", changed_invoices)

    changed_charges: list[dict] = []
    rng.shuffle(charges)
    for charge in charges[:6]:
        changed_charges.append(
            {**charge, "metadata": {"affitor_customer_key": f"charge_key_{charge['id']}"}}
        )
    for charge in charges[6:9]:
        changed_charges.append({**charge, "status": "failed"})
    for charge in standalone[3:5]:
        # a late charge's new version: created now, so it becomes visible on a later night
        changed_charges.append({**charge, "created": _epoch(night) + 86400 * 5})
    by_id = {charge["id"]: charge for charge in charges}
    routed_by_charge = [
        inv
        for inv in with_charge[40:]
        if not _own_key(inv)
        and ((inv.get("status_transitions") or {}).get("paid_at") or 0) < _epoch(night)
    ]
    for inv in routed_by_charge[:4]:
        # a paid invoice's charge that becomes visible only later, with metadata that decides the
        # invoice's customer key then (the invoice itself is not delivered again)
        charge = by_id[inv["charge"]]
        changed_charges.append(
            {
                **charge,
                "created": _epoch(night) + 86400 * 10,
                "metadata": {"affitor_customer_key": f"late_key_{charge['id']}"},
            }
        )
    _deliver(con, "charges", changed_charges)

    signup_emails = [
        row[0]
        for row in con.execute(
            "select distinct lower(email) from raw.tracking_signups where email is not null order by 1"
        ).fetchall()
    ]
    changed_customers: list[dict] = []
    rng.shuffle(customers)
    for customer, email in zip(customers[:8], rng.sample(signup_emails, 8), strict=True):
        changed_customers.append({**customer, "email": email, "metadata": {}})
    for customer in customers[8:10]:
        changed_customers.append({**customer, "created": _epoch(night) + 86400 * 40})
    _deliver(con, "customers", changed_customers)
    return {
        "invoices": len(changed_invoices),
        "charges": len(changed_charges),
        "customers": len(changed_customers),
    }


TierChange = tuple[str, datetime, str]  # (partner, open month, its tier before the delivery)


def _tracking_changes(
    con: duckdb.DuckDBPyConnection, landing: Path, rng: random.Random, night: date
) -> list[TierChange]:
    """Late signups (earlier signups for emails of Stripe customers, a signup's new email, a
    record without a key, a version timestamped after the night), new versions of leads, a
    sale's new version and late clicks that win, as new tracking files; returns the tier the
    late sales aim to raise (_tier_changes)."""
    customers = [c for c in _latest(con, "customers") if c.get("email")]
    rng.shuffle(customers)
    signups = con.execute(
        "select program_id, customer_key, email from raw.tracking_signups "
        "where program_id is not null and customer_key is not null order by 1, 2 limit 200"
    ).fetchall()
    rows = [
        [program, f"early_{night:%m%d}_{n}", customer["email"], "2025-01-01T00:00:01Z", "", ""]
        for n, (customer, program) in enumerate(
            zip(customers[:10], ["prog_eur", "prog_usd"] * 5, strict=True)
        )
    ]
    for program, key, _ in rng.sample(signups, 5):
        rows.append([program, key, f"renamed.{key}@example.org", "2025-01-02T00:00:00Z", "", ""])
    # a record without a customer key (rejected: every such record of a program is ranked in
    # one group), and a new version of a key timestamped after the night: it becomes the
    # newest valid version once a later night's as-of passes it
    program, key, email = rng.choice(signups)
    rows.append([program, "", f"keyless.{night:%m%d}@example.org", "2025-01-03T00:00:00Z", "", ""])
    rows.append([program, key, email, f"{night + timedelta(days=10)}T00:00:00Z", "", ""])
    _write_csv(
        _late_file(landing / "tracking" / "signups", night), TRACKING_COLUMNS["signups"], rows
    )
    sales = con.execute(
        "select transaction_id, program_id, customer_key, kind, amount_cents, currency, "
        "occurred_at, refund_of, coupon_code from raw.tracking_sales "
        "where kind = 'sale' order by transaction_id limit 50"
    ).fetchall()
    changed = []
    for row in rng.sample(sales, 4):
        values = ["" if value is None else str(value) for value in row]
        values[4] = str(int(values[4]) * 2 if values[4].isdigit() else 1000)
        changed.append(values)
    changed += _refund_changes(con, rng, night, [row[0] for row in changed])
    tier_sales, tier_changes = _tier_changes(con, rng, night)
    changed += tier_sales
    _write_csv(
        _late_file(landing / "tracking" / "sales", night), TRACKING_COLUMNS["sales"], changed
    )
    _write_csv(
        _late_file(landing / "tracking" / "clicks", night),
        TRACKING_COLUMNS["clicks"],
        _late_clicks(con, rng, night),
    )
    _write_csv(
        _late_file(landing / "tracking" / "leads", night),
        TRACKING_COLUMNS["leads"],
        _late_leads(con, rng, night),
    )
    _write_csv(
        _late_file(landing / "tracking" / "partners", night),
        TRACKING_COLUMNS["partners"],
        _partner_changes(con, rng, night) + _new_partners(con, night),
    )
    _write_csv(
        _late_file(landing / "tracking" / "coupons", night),
        TRACKING_COLUMNS["coupons"],
        _coupon_changes(con, rng),
    )
    return tier_changes


def _refund_changes(
    con: duckdb.DuckDBPyConnection, rng: random.Random, night: date, taken: list[str]
) -> list[list[str]]:
    """Sale API rows that move a refund's check (int_sales_validated reads the sale a refund
    names): a late refund of a stored sale nothing else touches tonight; a new version, in
    another currency, of a sale refunded on an earlier delivery (its refunds fail the check);
    and a sale timestamped ten days after the night with a refund timestamped before it (the
    refund fails the check until a later night's as-of passes the sale)."""
    sales = con.execute(
        "select transaction_id, program_id, customer_key, currency from raw.tracking_sales "
        "where kind = 'sale' and transaction_id is not null "
        "and transaction_id not in (select refund_of from raw.tracking_sales "
        "where refund_of is not null) order by transaction_id limit 200"
    ).fetchall()
    sale, program, customer, currency = rng.choice([row for row in sales if row[0] not in taken])
    before = f"{night - timedelta(days=3)}T00:00:00Z"
    rows = [
        [f"refund_{night:%m%d}", program, customer, "refund", "700", currency, before, sale, ""]
    ]
    refunded = con.execute(
        "select sales.transaction_id, sales.program_id, sales.customer_key, sales.kind, "
        "sales.amount_cents, sales.currency, sales.occurred_at, sales.coupon_code "
        "from raw.tracking_sales as sales inner join raw.tracking_sales as refunds "
        "on refunds.refund_of = sales.transaction_id and refunds.kind = 'refund' "
        "where sales.kind = 'sale' order by 1 limit 50"
    ).fetchall()
    refunded = [row for row in refunded if row[0] not in taken]
    if refunded:
        tx, program, customer, kind, amount, currency, occurred, coupon = (
            "" if value is None else str(value) for value in rng.choice(refunded)
        )
        other = "USD" if currency == "EUR" else "EUR"
        rows.append([tx, program, customer, kind, amount, other, occurred, "", coupon])
    later = f"{night + timedelta(days=10)}T00:00:00Z"
    future = f"future_{night:%m%d}"
    rows.append([future, program, customer, "sale", "9000", currency, later, "", ""])
    rows.append(
        [f"{future}_refund", program, customer, "refund", "900", currency, before, future, ""]
    )
    return rows


def _tier_changes(
    con: duckdb.DuckDBPyConnection, rng: random.Random, night: date
) -> tuple[list, list[TierChange]]:
    """Late sales that raise a partner's tier of the month still open, for a partner with an
    event of that month already stored: 25 new customers through the partner's coupon, 500.00
    each, five days before the month (inside every lookback). The stored events earn at the
    new tier's rate although nothing about them changed. The sales, and the tier they aim to
    raise; none while no such partner exists."""
    found = con.execute(
        "select tiers.partner_id, tiers.program_id, tiers.month_start, tiers.tier, "
        "min(coupons.coupon_code), min(programs.currency) "
        "from ledger.ledger_partner_tiers_monthly as tiers "
        "inner join intermediate.int_paid_events_attributed as events "
        "on events.partner_id = tiers.partner_id and events.paid_month_start = tiers.month_start "
        "inner join raw.tracking_coupons as coupons on coupons.partner_id = tiers.partner_id "
        "inner join rules.programs as programs on programs.program_id = tiers.program_id "
        "where not tiers.is_frozen and tiers.tier_rank = 1 "
        "group by all order by 1"
    ).fetchall()
    if not found:
        return [], []
    partner, program, month_start, tier, coupon, currency = rng.choice(found)
    occurred = month_start - timedelta(days=5)
    tag = f"{night:%m%d}_{rng.randrange(10**6)}"
    sales = [
        [
            f"tier_{tag}_{n}",
            program,
            f"tier_{tag}_{n}",
            "sale",
            "50000",
            currency,
            f"{occurred:%Y-%m-%dT%H:%M:%S}Z",
            "",
            coupon,
        ]
        for n in range(25)
    ]
    return sales, [(partner, month_start, tier)]


def _partner_changes(con: duckdb.DuckDBPyConnection, rng: random.Random, night: date) -> list:
    """New versions of partners that earn: one terminated 45 days ago (its events since, in a
    month whose tier is frozen, earn nothing), a recruiter terminated 45 days ago (its referral
    commissions stop), one whose termination becomes visible only after this night, and one
    recruited by another partner."""
    partners = con.execute(
        "select partner_id, program_id, partner_code, name, email, recruited_by, joined_at, "
        "status, status_changed_at, payout_method, payout_account from raw.tracking_partners "
        "qualify row_number() over (partition by partner_id order by delivery_seq desc, line_no desc) = 1 "
        "order by partner_id"
    ).fetchall()
    earning = {
        row[0]
        for row in con.execute(
            "select distinct partner_id from intermediate.int_commissions_computed"
        ).fetchall()
    }
    recruiters = {row[5] for row in partners if row[5]}
    active = [list(row) for row in partners if row[7] == "active" and row[0] in earning]
    rng.shuffle(active)
    recruiter = next(row for row in active if row[0] in recruiters)
    others = [row for row in active if row[0] not in recruiters]
    changed = []
    for row, days in ((others[0], -45), (recruiter, -45), (others[1], 3)):
        changed.append(
            row[:7] + ["terminated", f"{night + timedelta(days=days)}T00:00:00Z"] + row[9:]
        )
    recruited = others[2]
    sponsor = next(row for row in active if row[1] == recruited[1] and row[0] != recruited[0])
    changed.append(recruited[:5] + [sponsor[0]] + recruited[6:])
    return [["" if value is None else str(value) for value in row] for row in changed]


def _new_partners(con: duckdb.DuckDBPyConnection, night: date) -> list[list[str]]:
    """Partners for the codes earlier nights' late clicks named while no partner had them
    (_late_clicks): their touches were unknown_partner and name a partner now. Each copies an
    active partner of its program."""
    template = {
        program: list(row)
        for program, *row in con.execute(
            "select program_id, partner_id, program_id, partner_code, name, email, recruited_by, "
            "joined_at, status, status_changed_at, payout_method, payout_account "
            "from raw.tracking_partners where status = 'active' and recruited_by is null "
            "qualify row_number() over (partition by program_id order by partner_id) = 1"
        ).fetchall()
    }
    unknown = con.execute(
        "select distinct program_id, partner_code from raw.tracking_clicks "
        "where partner_code like 'NEWCODE%' and partner_code not in "
        "(select partner_code from raw.tracking_partners where partner_code is not null) "
        "order by 1, 2"
    ).fetchall()
    rows = []
    for n, (program, code) in enumerate(unknown):
        row = list(template[program])
        row[0] = f"pt_new_{night:%m%d}_{n}"
        row[2] = code
        row[4] = f"new.{night:%m%d}.{n}@partners.example.org"
        # joined the day before: their touches are now partner_not_joined, and the tier store
        # evaluates only a month that a run of the same night evaluates again (_tiers_written)
        row[6] = f"{night - timedelta(days=1)}T00:00:00Z"
        rows.append(["" if value is None else str(value) for value in row])
    return rows


def _coupon_changes(con: duckdb.DuckDBPyConnection, rng: random.Random) -> list[list[str]]:
    """New versions of coupons on customers' first paid events, mapped to another partner of
    their program: the coupon touch names another partner."""
    coupons = con.execute(
        "select distinct coupons.coupon_code, coupons.program_id "
        "from raw.tracking_coupons as coupons "
        "inner join intermediate.int_customers_identified as identified "
        "on identified.first_event_coupon_code = coupons.coupon_code "
        "and identified.program_id = coupons.program_id order by 1, 2"
    ).fetchall()
    rows = []
    for code, program in rng.sample(coupons, 3):
        (partner,) = con.execute(
            "select partner_id from raw.tracking_partners where program_id = ? "
            "and status = 'active' order by hash(partner_id || ?) limit 1",
            [program, code],
        ).fetchone()
        rows.append([code, program, partner])
    return rows


def _late_file(folder: Path, night: date) -> Path:
    """A new file name for the night's late deliveries (a night run twice gets two)."""
    return folder / f"late-{night}-{len(list(folder.glob(f'late-{night}-*')))}.csv"


def _late_leads(con: duckdb.DuckDBPyConnection, rng: random.Random, night: date) -> list[list]:
    """New versions of leads (another partner's code; one timestamped after the night, newest
    once a later as-of passes it), a lead for a signed-up customer's email, and a lead without
    an id (rejected: every such record is ranked in one group)."""
    leads = con.execute(
        "select lead_id, program_id, partner_code, email, occurred_at from raw.tracking_leads "
        "where lead_id is not null order by lead_id limit 300"
    ).fetchall()
    codes = {
        program: [
            code
            for (code,) in con.execute(
                "select distinct partner_code from raw.tracking_partners where program_id = ? "
                "order by 1",
                [program],
            ).fetchall()
        ]
        for program in ("prog_eur", "prog_usd")
    }
    rows = []
    for lead_id, program, _, email, occurred in rng.sample(leads, 4):
        rows.append([lead_id, program, rng.choice(codes[program]), email, occurred])
    lead_id, program, code, email, _ = rng.choice(leads)
    rows.append([lead_id, program, code, email, f"{night + timedelta(days=10)}T00:00:00Z"])
    program, email, signed_up = con.execute(
        "select program_id, lower(email), occurred_at from raw.tracking_signups "
        "where email is not null and customer_key is not null order by customer_key limit 1"
    ).fetchone()
    rows.append([f"late_lead_{night:%m%d}", program, rng.choice(codes[program]), email, signed_up])
    rows.append(["", program, code, email, "2025-01-03T00:00:00Z"])
    return [["" if value is None else str(value) for value in row] for row in rows]


def _late_clicks(con: duckdb.DuckDBPyConnection, rng: random.Random, night: date) -> list[list]:
    """Clicks delivered late for customers a click already won, from the same partner, that win
    now (prog_eur attributes to the last touch: a minute before conversion; prog_usd to the
    first: 44 days before, inside its 45-day window): the winning touch changes while the
    customer's events, partner and commissions do not. Also a click naming a code no partner
    has yet (a later night delivers its partner, _new_partners), a click visible only from the
    next night, and a new version of a click a customer matched by visitor, with another
    visitor: the customer loses the touch."""
    before = {"prog_eur": timedelta(minutes=1), "prog_usd": timedelta(days=44)}
    customers = [
        (program, visitor, converted_at - before[program], code)
        for program, visitor, converted_at, code, joined_at in con.execute(
            "select identified.program_id, identified.signup_visitor_id, identified.converted_at, "
            "partners.partner_code, partners.joined_at "
            "from intermediate.int_customers_identified as identified "
            "inner join main.dim_customers as customers using (program_id, customer_key) "
            "inner join intermediate.int_partners_current as partners "
            "on customers.program_id = partners.program_id "
            "and customers.partner_id = partners.partner_id "
            "where customers.winning_touch_source = 'click' "
            "and identified.signup_visitor_id is not null and customers.first_paid_at is not null "
            "order by 1, 2"
        ).fetchall()
        if joined_at < converted_at - before[program]
    ]
    rows = [
        [
            f"late_{night:%m%d}_{n}",
            program,
            code,
            f"{touched:%Y-%m-%dT%H:%M:%S}Z",
            visitor,
            "https://example.org/?aff=late",
        ]
        for n, (program, visitor, touched, code) in enumerate(rng.sample(customers, 8))
    ]
    program, visitor, touched, _ = rng.choice(customers)
    rows.append(
        [
            f"late_{night:%m%d}_new",
            program,
            f"NEWCODE{night:%m%d}",
            f"{touched:%Y-%m-%dT%H:%M:%S}Z",
            visitor,
            "https://example.org/?aff=new",
        ]
    )
    # a click timestamped after the night's as-of: visible from the next night, which
    # delivers nothing that names it
    program, visitor, _, code = rng.choice(customers)
    rows.append(
        [
            f"late_{night:%m%d}_later",
            program,
            code,
            f"{night:%Y-%m-%d}T12:00:00Z",
            visitor,
            "https://example.org/?aff=later",
        ]
    )
    # the moved click's new visitor is no customer's: only its old record names the customer
    # that loses it
    moved = con.execute(
        "select clicks.click_id, clicks.program_id, clicks.partner_code, clicks.occurred_at, "
        "clicks.landing_url from raw.tracking_clicks as clicks "
        "inner join intermediate.int_touch_candidates as candidates "
        "on candidates.touch_source = 'click' and candidates.touch_id = clicks.click_id "
        "inner join intermediate.int_customers_identified as identified "
        "on candidates.customer_id = identified.customer_id "
        "and clicks.visitor_id = identified.signup_visitor_id "
        "where clicks.click_id not like 'late%' "
        "and clicks.click_id is distinct from identified.signup_click_id "
        "and clicks.click_id is distinct from identified.stripe_click_id "
        "order by hash(clicks.click_id || ?) limit 1",
        [str(night)],
    ).fetchone()
    rows.append([*moved[:4], f"v_moved_{night:%m%d}", moved[4]])
    return [["" if value is None else str(value) for value in row] for row in rows]


TIER_COLUMNS = (
    "partner_month_id, program_id, partner_id, month_start, month_end, tier, tier_rank, "
    "customers_count, revenue_scaled, revenue_cents"
)


def _tiers_written(warehouse: Path, night: date) -> tuple[int, int]:
    """The months the tier store wrote tonight (it evaluates only the months it has not frozen),
    and how many of them differ from the view that evaluates every month."""
    con = duckdb.connect(str(warehouse), read_only=True)
    written = con.execute(
        "select count(*) from ledger.ledger_partner_tiers_monthly where evaluated_as_of = ?",
        [night],
    ).fetchone()[0]
    differing = con.execute(
        f"select count(*) from (select {TIER_COLUMNS} from ledger.ledger_partner_tiers_monthly "
        f"where evaluated_as_of = ? except "
        f"select {TIER_COLUMNS} from intermediate.int_partner_tiers_evaluated)",
        [night],
    ).fetchone()[0]
    con.close()
    return written, differing


def _assert_replaced_keys_recorded(warehouse: Path, delivered_after: int, night: date) -> None:
    """The delete+insert models with a `written_key` recorded the keys they wrote tonight: the
    Stripe staging tables the ids of tonight's lines, the tier store the months it evaluated
    (macros/written_keys.sql); their key tests read only those rows."""
    con = duckdb.connect(str(warehouse), read_only=True)

    def recorded(model: str) -> set[str]:
        rows = con.execute(
            "select key_value from intermediate.written_keys where model_name = ?", [model]
        ).fetchall()
        return {key for (key,) in rows}

    try:
        for object_type, model, key in (
            ("charges", "stg_stripe__charges", "charge_id"),
            ("invoices", "stg_stripe__invoices", "invoice_id"),
            ("customers", "stg_stripe__customers", "stripe_customer_id"),
            ("refunds", "stg_stripe__refunds", "refund_id"),
        ):
            delivered = {
                object_id
                for (object_id,) in con.execute(
                    "select distinct object_id from raw.stripe_objects "
                    "where object_type = ? and delivery_seq > ?",
                    [object_type, delivered_after],
                ).fetchall()
            }
            # a line that cannot be read stays out of the staging table (its quarantine says why)
            staged = {k for (k,) in con.execute(f"select {key} from staging.{model}").fetchall()}
            assert recorded(model) == delivered & staged, (night, model)
        months = con.execute(
            "select partner_month_id from ledger.ledger_partner_tiers_monthly "
            "where evaluated_as_of = ?",
            [night],
        ).fetchall()
        assert recorded("ledger_partner_tiers_monthly") == {key for (key,) in months}, night
    finally:
        con.close()


def test_scoped_nights_equal_full_builds(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate_demo_landing(landing, seed=5, months=8)
    held = tmp_path / "held"
    held.mkdir()
    shutil.move(landing / "stripe" / "refunds.jsonl", held / "refunds.jsonl")
    warehouse = tmp_path / "scoped" / WAREHOUSE
    con = connect(warehouse)
    ensure_raw_schema(con)
    load_rules(con, DEFAULTS["rules"])
    ingest_landing(con, landing)
    con.close()
    rng = random.Random(3)
    tier_changes: list[TierChange] = []
    for index, night in enumerate(NIGHTS):
        if index:
            con = connect(warehouse)
            delivered_after = con.execute(
                "select max(delivery_seq) from raw.stripe_objects"
            ).fetchone()[0]
            if index == 1:
                shutil.copyfile(held / "refunds.jsonl", landing / "stripe" / "refunds.jsonl")
            counts = _stripe_changes(con, rng, night)
            assert min(counts.values()) > 0, counts
            tier_changes += _tracking_changes(con, landing, rng, night)
            ingest_landing(con, landing)
            con.close()
        reference = tmp_path / f"full-{index}-{night}" / WAREHOUSE
        reference.parent.mkdir()
        shutil.copyfile(warehouse, reference)
        con = duckdb.connect(str(reference))
        for table in SCOPED:
            con.execute(f"drop table if exists {table}")
        con.close()
        for built, target in ((warehouse, "target-scoped"), (reference, "target-full")):
            dbt_build(built, night.isoformat(), select=SELECT, target_dir=tmp_path / target)
        assert warehouse_differences(warehouse, reference, min_tables=40) == {}, f"night {night}"
        written, differing = _tiers_written(warehouse, night)
        assert written > 0 and differing == 0, (night, written, differing)
        if index:
            _assert_replaced_keys_recorded(warehouse, delivered_after, night)
        for table in SCOPED if index else ():
            name = table.split(".")[1]
            compiled = next((tmp_path / "target-scoped" / "compiled").rglob(f"{name}.sql"))
            assert "-- scope: changes" in compiled.read_text(), (
                f"{name} was built in full on {night}"
            )
        # the expected ledger read the commissions' events written tonight, the commissions the
        # attributed events', those the numbered events', the numbering the resolved events',
        # and the ledger's store compared the keys the expected ledger wrote
        # (macros/written_keys.sql)
        for name, phrase in (
            ("int_ledger_entries_expected", "; commissions by written keys"),
            ("int_commissions_computed", "; events by written keys"),
            ("int_paid_events_attributed", "; events by written keys"),
            ("int_paid_events_numbered", "; events by written keys"),
            ("ledger_entries", "; keys written by int_ledger_entries_expected"),
            # the scopes DuckDB would misjudge are read from a table of their keys
            # (materialized_scope, macros/change_scope.sql)
            ("int_stripe_charges_linked", 'from "int_stripe_charges_linked__charges"'),
            ("int_paid_events_resolved", 'from "int_paid_events_resolved__paid_events"'),
        ):
            compiled = next((tmp_path / "target-scoped" / "compiled").rglob(f"{name}.sql"))
            assert (phrase in compiled.read_text()) == bool(index), (name, night)
    con = duckdb.connect(str(warehouse), read_only=True)
    raised = [
        partner
        for partner, month_start, tier in tier_changes
        if con.execute(
            "select tier from ledger.ledger_partner_tiers_monthly "
            "where partner_id = ? and month_start = ?",
            [partner, month_start],
        ).fetchone()[0]
        != tier
    ]
    assert raised, tier_changes  # a stored event's tier did change under it
    marks = con.execute(
        "select model_name, built_as_of from intermediate.scope_marks order by 1"
    ).fetchall()
    con.close()
    # the ledger's store is marked too: it compares the keys the expected ledger wrote
    marked = (*SCOPED, "ledger.ledger_entries")
    assert marks == sorted((table.split(".")[1], NIGHTS[-1]) for table in marked)


def test_new_code_recreates_the_tables_whose_columns_it_changed(
    example_three_nights: Path, tmp_path: Path
) -> None:
    """A scoped model last built by other code (an older release, simulated: its marks name
    another fingerprint, and its table lacks a column this code writes) is recreated, not
    refilled: dbt's incremental materialization keeps a stored table's columns, so the column
    would never arrive and the models reading it would fail. The next build of the same code
    refreshes nothing."""
    warehouse = tmp_path / "example.duckdb"  # the views name their catalog after the file
    shutil.copyfile(example_three_nights / "warehouse" / "example.duckdb", warehouse)
    con = connect(warehouse)
    try:
        con.execute(
            "update intermediate.scope_marks "
            "set fingerprint = 'an-older-release:' || split_part(fingerprint, ':', 2)"
        )
        con.execute("alter table intermediate.int_signups_validated drop column is_visible")
        con.execute("alter table main.fct_paid_events drop column partner_id")
    finally:
        con.close()
    result = dbt_build(warehouse, "2025-06-02", target_dir=tmp_path / "t")
    assert result.full_refresh
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        columns = {
            (table, column)
            for table, column in con.execute(
                "select table_name, column_name from information_schema.columns"
            ).fetchall()
        }
        codes = con.execute(
            "select distinct split_part(fingerprint, ':', 1) from intermediate.scope_marks"
        ).fetchall()
    finally:
        con.close()
    assert ("int_signups_validated", "is_visible") in columns
    assert ("fct_paid_events", "partner_id") in columns
    assert codes and "an-older-release" not in {code for (code,) in codes}
    assert not dbt_build(warehouse, "2025-06-02", target_dir=tmp_path / "t").full_refresh


def _scope_line(target: Path, model: str) -> str:
    compiled = next((target / "compiled").rglob(f"{model}.sql")).read_text()
    return next(line for line in compiled.splitlines() if line.startswith("-- scope:"))


def test_the_fingerprint_holds_the_rules_and_the_as_of_decides(tmp_path: Path) -> None:
    """A scoped model compares its marks with this build's fingerprint (the code's and every
    rules table's hash) and as-of in one query (change_scope): the same night again recomputes
    changes only; a changed rate, or an as-of before the marks', builds it in full, and the
    marks record the new fingerprint."""
    example = Path(__file__).resolve().parents[2] / "shared" / "examples" / "three_partners"
    rules = tmp_path / "rules"
    shutil.copytree(example / "rules", rules)
    warehouse = tmp_path / WAREHOUSE
    con = connect(warehouse)
    ensure_raw_schema(con)
    load_rules(con, rules)
    ingest_landing(con, example / "landing")
    con.close()
    model, target = "int_paid_events_resolved", tmp_path / "target"

    def night(as_of: str) -> tuple[str, str]:
        dbt_build(warehouse, as_of, select=f"+{model}", target_dir=target)
        con = duckdb.connect(str(warehouse), read_only=True)
        (fingerprint,) = con.execute(
            "select fingerprint from intermediate.scope_marks where model_name = ?", [model]
        ).fetchone()
        con.close()
        return _scope_line(target, model), fingerprint

    first = night("2025-04-01")[1]
    assert night("2025-04-01") == (
        "-- scope: changes (deliveries after 12, records from 2025-04-01)",
        first,
    )
    rates = (rules / "rates.csv").read_text()
    (rules / "rates.csv").write_text(
        rates.replace("prog_lumen,standard,intro,3500,", "prog_lumen,standard,intro,3600,", 1)
    )
    con = connect(warehouse)
    load_rules(con, rules)
    con.close()
    line, changed = night("2025-04-01")
    assert line == "-- scope: full (code or rules changed)"
    assert changed != first and changed.split(":")[0] == first.split(":")[0]  # the same code
    assert night("2025-03-28")[0] == "-- scope: full (as-of went backwards)"
