"""Billing: Stripe objects (customers, invoices, charges, refunds, disputes) and Sale API rows."""

from __future__ import annotations

import itertools
import json
import random
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from partner_ledger.demo.context import (
    _add_months_ts,
    _csv_line,
    _Ctx,
    _interleave_positions,
    _interleaved,
    _iso_mixed,
    _Journey,
    _open_out,
    _stripe_id,
    _write_tracking_file,
    iso,
)
from partner_ledger.demo.shape import (
    COMPANY_COUPONS,
    DAY,
    HOUR,
    MAIL_DOMAINS,
    PROGRAMS,
    STRIPE_FILES,
)
from partner_ledger.demo.tracking import _bad_count


class _Spill:
    """JSON lines of one Stripe file kept on disk, not in memory (at L, 20 million objects
    held as strings took more than the machine's 24 GB): each line is appended to a temporary
    file and only its time, id and offset stay in memory. ``lines_in_order`` yields them by
    (time, id, line), the order the demo files have always had."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()
        self.times = array("q")
        self.ids: list[str] = []
        self.offsets = array("q", [0])

    def __len__(self) -> int:
        return len(self.ids)

    def append(self, ts: int, object_id: str, line: str) -> None:
        data = line.encode()
        self.file.write(data)
        self.times.append(ts)
        self.ids.append(object_id)
        self.offsets.append(self.offsets[-1] + len(data))

    def line(self, index: int) -> str:
        self.file.seek(self.offsets[index])
        return self.file.read(self.offsets[index + 1] - self.offsets[index]).decode()

    def lines_in_order(self) -> Iterator[str]:
        self.file.flush()
        times, ids = self.times, self.ids

        def key(i: int) -> tuple[int, str]:
            return times[i], ids[i]

        for _, same in itertools.groupby(sorted(range(len(ids)), key=key), key=key):
            # the same object at the same time twice (rare): by the line, as sorted() did
            yield from sorted(self.line(i) for i in same)

    def close(self) -> None:
        self.file.close()


class _Stripe:
    """Stripe JSON lines by file: first versions and later versions, spilled to disk.

    Objects are serialised when added, so a later change to a dict never alters a written line.
    """

    def __init__(self) -> None:
        self.first = {name: _Spill() for name in STRIPE_FILES}
        self.later = {name: _Spill() for name in STRIPE_FILES}
        # positions in first["charges"] of the succeeded charges
        self.paid_charges = array("q")

    def add(self, name: str, ts: int, obj: dict[str, Any]) -> None:
        if name == "charges" and obj["status"] == "succeeded":
            self.paid_charges.append(len(self.first[name]))
        self.first[name].append(ts, obj["id"], json.dumps(obj))

    def update(self, name: str, ts: int, obj: dict[str, Any]) -> None:
        self.later[name].append(ts, obj["id"], json.dumps(obj))

    def paid_charge(self, position: int) -> tuple[str, str, int]:
        """(id, currency, created) of a succeeded charge."""
        charge = json.loads(self.first["charges"].line(position))
        return charge["id"], charge["currency"], charge["created"]

    def close(self) -> None:
        for spill in (*self.first.values(), *self.later.values()):
            spill.close()


@dataclass
class _Customer:
    """One Stripe customer being billed."""

    journey: _Journey
    cus_id: str
    currency: str  # lower-case, as Stripe writes it
    route: str  # where metadata.program_id sits: customer | subscription | invoice | ""
    invoice_metadata: dict[str, str]
    subscription_metadata: dict[str, str]


def _coupon_percent(code: str) -> int:
    digits = "".join(ch for ch in code if ch.isdigit())
    return min(int(digits), 50) if digits else 10


def _status_path(
    rng: random.Random, paths: Sequence[tuple[tuple[str, ...], float]]
) -> tuple[str, ...]:
    return rng.choices([p for p, _ in paths], weights=[w for _, w in paths])[0]


REFUND_PATHS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("succeeded",), 82),
    (("pending",), 4),
    (("pending", "succeeded"), 5),
    (("succeeded", "failed"), 3),
    (("pending", "failed"), 3),
    (("pending", "canceled"), 3),
)
DISPUTE_PATHS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("needs_response", "under_review", "lost"), 45),
    (("needs_response", "under_review", "won"), 40),
    (("warning_needs_response", "under_review"), 10),
    (("needs_response",), 5),
)


def _refund(
    ctx: _Ctx, rng: random.Random, out: _Stripe, charge: dict[str, Any], ts: int, amount: int
) -> None:
    refund_id = _stripe_id(rng, "re_", ctx.stripe_ids)
    path = _status_path(rng, REFUND_PATHS)
    reason = rng.choice(("requested_by_customer", "duplicate", "requested_by_customer"))
    for step, status in enumerate(path):
        obj = {
            "id": refund_id,
            "object": "refund",
            "charge": charge["id"],
            "amount": amount,
            "currency": charge["currency"],
            "status": status,
            "reason": reason,
            "created": ts,
        }
        (out.add if step == 0 else out.update)("refunds", ts + step * DAY, obj)
    ctx.add("refunds")


def _after_payment(ctx: _Ctx, rng: random.Random, out: _Stripe, charge: dict[str, Any]) -> None:
    """Refunds (full, partial, two partials) or a dispute of a succeeded charge, sometimes."""
    paid_ts, amount = charge["created"], charge["amount"]
    roll = rng.random()
    if roll < 0.03:
        ts = paid_ts + rng.randrange(HOUR, 20 * DAY)
        if ts >= ctx.end_ts:
            return
        if rng.random() < 0.6:
            _refund(ctx, rng, out, charge, ts, amount)
            return
        part = max(1, round(amount * rng.uniform(0.1, 0.6)))
        _refund(ctx, rng, out, charge, ts, part)
        second = ts + rng.randrange(HOUR, 10 * DAY)
        if rng.random() < 0.2 and second < ctx.end_ts:
            _refund(ctx, rng, out, charge, second, max(1, (amount - part) // 2))
    elif roll < 0.036:
        ts = paid_ts + rng.randrange(10 * DAY, 60 * DAY)
        if ts >= ctx.end_ts:
            return
        dispute_id = _stripe_id(rng, "dp_", ctx.stripe_ids)
        reason = rng.choice(("fraudulent", "product_not_received", "subscription_canceled"))
        for step, status in enumerate(_status_path(rng, DISPUTE_PATHS)):
            obj = {
                "id": dispute_id,
                "object": "dispute",
                "charge": charge["id"],
                "amount": amount,
                "currency": charge["currency"],
                "status": status,
                "reason": reason,
                "created": ts,
            }
            (out.add if step == 0 else out.update)("disputes", ts + step * 7 * DAY, obj)
        ctx.add("disputes")


def _charge(
    ctx: _Ctx,
    rng: random.Random,
    customer: _Customer,
    ts: int,
    amount: int,
    invoice: str | None,
    ok: bool,
    metadata: dict[str, str],
) -> dict[str, Any]:
    ctx.add("charges")
    return {
        "id": _stripe_id(rng, "ch_", ctx.stripe_ids),
        "object": "charge",
        "invoice": invoice,
        "customer": customer.cus_id,
        "amount": amount,
        "currency": customer.currency,
        "status": "succeeded" if ok else "failed",
        "paid": ok,
        "captured": ok,
        "failure_code": None
        if ok
        else rng.choice(("card_declined", "expired_card", "insufficient_funds")),
        "created": ts,
        "description": "Subscription update" if invoice else "Onboarding package",
        "metadata": metadata,
    }


def _new_customer(
    ctx: _Ctx, rng: random.Random, out: _Stripe, journey: _Journey, created: int
) -> _Customer:
    shape = journey.shape
    cus_id = _stripe_id(rng, "cus_", ctx.stripe_ids)
    metadata: dict[str, str] = {}
    subscription_metadata: dict[str, str] = {}
    invoice_metadata: dict[str, str] = {}
    if shape.program_id == "prog_eur":  # the default program: the id is often left out
        route = "customer" if rng.random() < 0.5 else ""
    else:
        route = rng.choices(("customer", "subscription", "invoice"), weights=(70, 20, 10))[0]
    target = {
        "customer": metadata,
        "subscription": subscription_metadata,
        "invoice": invoice_metadata,
    }
    if route:
        target[route]["program_id"] = shape.program_id
    email = journey.email
    if journey.customer_key:
        roll = rng.random()
        if roll < 0.7:
            metadata["affitor_customer_key"] = journey.customer_key
        elif roll < 0.8:
            subscription_metadata["affitor_customer_key"] = journey.customer_key
        elif roll < 0.83:  # no key, and a billing address that matches no signup
            email = f"billing+{journey.customer_key}@{rng.choice(MAIL_DOMAINS)}"
    if journey.stripe_click >= 0 and ctx.jc_click_id[journey.stripe_click]:
        metadata["affitor_click_id"] = ctx.jc_click_id[journey.stripe_click]
    elif rng.random() < 0.1:
        metadata["affitor_click_id"] = ""  # empty counts as absent
    other = "usd" if shape.currency == "EUR" else "eur"
    currency = other if rng.random() < 0.03 else shape.currency.lower()
    first, _, _ = email.partition(".")
    out.add(
        "customers",
        created,
        {
            "id": cus_id,
            "object": "customer",
            "email": email if rng.random() < 0.9 else email.title(),
            "name": first.title(),
            "created": created,
            "currency": currency,
            "metadata": metadata,
        },
    )
    ctx.add("stripe_customers")
    return _Customer(journey, cus_id, currency, route, invoice_metadata, subscription_metadata)


def _invoice(
    ctx: _Ctx,
    rng: random.Random,
    customer: _Customer,
    sub_id: str,
    due: int,
    amount: int,
    tax: int | None,
    coupon: str,
    reason: str,
) -> dict[str, Any]:
    ctx.add("invoices")
    invoice: dict[str, Any] = {
        "id": _stripe_id(rng, "in_", ctx.stripe_ids),
        "object": "invoice",
        "customer": customer.cus_id,
        "subscription": sub_id,
        "status": "paid",
        "currency": customer.currency,
        "amount_due": amount,
        "amount_paid": amount,
        **({} if tax is None else {"tax": tax}),
        "billing_reason": reason,
        "created": due - HOUR,
        "status_transitions": {"finalized_at": due - HOUR, "paid_at": due},
        "charge": None,
        "discount": {"coupon": {"id": coupon, "percent_off": _coupon_percent(coupon)}}
        if coupon
        else None,
        "metadata": dict(customer.invoice_metadata),
        "subscription_details": {"metadata": dict(customer.subscription_metadata)},
    }
    return invoice


def _subscription(
    ctx: _Ctx, rng: random.Random, out: _Stripe, customer: _Customer, created: int
) -> bool:
    """Monthly invoices until churn or the end; True when something was paid."""
    shape = customer.journey.shape
    sub_id = _stripe_id(rng, "sub_", ctx.stripe_ids)
    plan = rng.choices(range(len(shape.plans)), weights=shape.plan_weights)[0]
    taxed = rng.random() < shape.taxed_share
    tax_rate = rng.choice(shape.tax_rates)
    tax_absent = not taxed and rng.random() < 0.4
    start = created + 60
    if rng.random() < 0.3:  # a 14-day trial: Stripe books a 0 invoice without charge
        trial = _invoice(ctx, rng, customer, sub_id, start, 0, 0, "", "subscription_create")
        out.add("invoices", start, trial)
        start += 14 * DAY
    coupon = customer.journey.coupon or (rng.choice(COMPANY_COUPONS) if rng.random() < 0.03 else "")
    paid_any = False
    for k in itertools.count():
        due = _add_months_ts(start, k) + rng.randrange(0, 600)
        if due >= ctx.end_ts:
            break
        if k > 0 and rng.random() < 0.03:
            plan = min(plan + 1, len(shape.plans) - 1)
        net = shape.plans[plan]
        discount = coupon if k == 0 else ""
        if discount:
            net = round(net * (100 - _coupon_percent(discount)) / 100)
        tax = round(net * tax_rate) if taxed else (None if tax_absent else 0)
        amount = net + (tax or 0)
        reason = "subscription_create" if k == 0 else "subscription_cycle"
        invoice = _invoice(ctx, rng, customer, sub_id, due, amount, tax, discount, reason)
        if rng.random() < 0.025:
            if not _failed_then_retried(ctx, rng, out, customer, invoice, due):
                break  # an unpaid invoice ends the subscription
        else:
            charge = _charge(ctx, rng, customer, due, amount, invoice["id"], True, {})
            out.add("invoices", due, {**invoice, "charge": charge["id"]})
            out.add("charges", due, charge)
            _after_payment(ctx, rng, out, charge)
        paid_any = True
        if rng.random() < shape.churn:
            break
    return paid_any


def _failed_then_retried(
    ctx: _Ctx,
    rng: random.Random,
    out: _Stripe,
    customer: _Customer,
    invoice: dict[str, Any],
    due: int,
) -> bool:
    """A declined card: an open invoice, then paid on retry (a later line) or uncollectible."""
    failed = _charge(ctx, rng, customer, due, invoice["amount_due"], invoice["id"], False, {})
    out.add("charges", due, failed)
    opened = {
        **invoice,
        "status": "open",
        "amount_paid": 0,
        "charge": failed["id"],
        "status_transitions": {"finalized_at": due - HOUR, "paid_at": None},
    }
    out.add("invoices", due, opened)
    retry = due + 3 * DAY
    if retry >= ctx.end_ts:
        return False  # still open at the end
    if rng.random() < 0.4:
        out.update("invoices", retry, {**opened, "status": "uncollectible"})
        return False
    charge = _charge(ctx, rng, customer, retry, invoice["amount_due"], invoice["id"], True, {})
    transitions = {"finalized_at": due - HOUR, "paid_at": retry}
    out.update(
        "invoices", retry, {**invoice, "charge": charge["id"], "status_transitions": transitions}
    )
    out.add("charges", retry, charge)
    _after_payment(ctx, rng, out, charge)
    return True


def _one_time_charges(
    ctx: _Ctx, rng: random.Random, out: _Stripe, customer: _Customer, created: int
) -> bool:
    if rng.random() >= 0.08:
        return False
    shape = customer.journey.shape
    ts = created + rng.randrange(HOUR, 20 * DAY)
    if ts >= ctx.end_ts:
        return False
    metadata = {} if customer.route in ("customer", "") else {"program_id": shape.program_id}
    ok = rng.random() >= 0.12
    charge = _charge(ctx, rng, customer, ts, rng.choice(shape.packages), None, ok, metadata)
    out.add("charges", ts, charge)
    if ok:
        _after_payment(ctx, rng, out, charge)
    return ok


def _make_stripe(ctx: _Ctx) -> _Stripe:
    rng = ctx.rng("stripe")
    out = _Stripe()
    for journey in ctx.journeys:
        if journey.channel != "stripe":
            continue
        created = (journey.signup_ts or journey.created_ts) + rng.randrange(60, 1800)
        if created >= ctx.end_ts - HOUR:
            continue
        customer = _new_customer(ctx, rng, out, journey, created)
        paid = _subscription(ctx, rng, out, customer, created)
        paid = _one_time_charges(ctx, rng, out, customer, created) or paid
        ctx.add("customers", int(paid))
    return out


def _malformed_stripe(ctx: _Ctx, rng: random.Random, out: _Stripe) -> dict[str, list[str]]:
    """Lines the loader must quarantine, a few per file (not JSON, no id, unknown charge...)."""
    charge, currency, created = (
        out.paid_charge(rng.choice(out.paid_charges)) if out.paid_charges else ("ch_none", "eur", 0)
    )
    ts = min(max(created, ctx.start_ts) + 2 * DAY, ctx.end_ts - 1)
    other = "usd" if currency == "eur" else "eur"

    def refund(charge: str, amount: int, currency: str) -> str:
        refund_id = _stripe_id(rng, "re_", ctx.stripe_ids)
        return json.dumps(
            {
                "id": refund_id,
                "object": "refund",
                "charge": charge,
                "amount": amount,
                "currency": currency,
                "status": "succeeded",
                "created": ts,
            }
        )

    dispute = {
        "id": _stripe_id(rng, "dp_", ctx.stripe_ids),
        "object": "dispute",
        "charge": "ch_1UnknownCharge000000000001",
        "amount": 900,
        "currency": "eur",
        "status": "lost",
        "created": ts,
    }
    return {
        "customers": [json.dumps({"object": "customer", "email": "no.id@example.com"})],
        "invoices": ['{"id": "in_1Truncated", "object": "invoice", "customer": "cus_'],
        "charges": [json.dumps(["ch_1NotAnObject", "succeeded", 1200])],
        "refunds": [
            refund("ch_1UnknownCharge000000000000", 500, currency),
            refund(charge, 0, currency),
            refund(charge, 500, other),
        ],
        "disputes": [json.dumps(dispute)],
    }


def _write_stripe(ctx: _Ctx, out: _Stripe) -> None:
    rng = ctx.rng("stripe-files")
    try:
        malformed = _malformed_stripe(ctx, rng, out)
        for name in STRIPE_FILES:
            first, later = out.first[name], out.later[name]
            # the malformed lines at random places among the first versions
            extra = _interleave_positions(rng, len(first), malformed[name])
            lines = itertools.chain(
                _interleaved(first.lines_in_order(), extra), later.lines_in_order()
            )
            with _open_out(ctx.landing / "stripe" / f"{name}.jsonl") as file:
                for line in lines:
                    file.write((line + "\n").encode())
            ctx.add("malformed_rows", len(malformed[name]))
            ctx.add("files")
    finally:
        out.close()


def _sales_for(
    ctx: _Ctx, rng: random.Random, journey: _Journey, counter: Iterator[int]
) -> list[tuple[int, list[str]]]:
    """Sale API rows of one customer: an annual plan or monthly sales, sometimes refunded."""
    assert journey.signup_ts is not None
    shape = journey.shape
    price = rng.choices(shape.plans, weights=shape.plan_weights)[0]
    currency = (
        ("USD" if shape.currency == "EUR" else "EUR") if rng.random() < 0.03 else shape.currency
    )
    annual = rng.random() < 0.6
    first = journey.signup_ts + rng.randrange(HOUR, 3 * DAY)
    rows: list[tuple[int, list[str]]] = []
    for k in itertools.count():
        ts = _add_months_ts(first, 12 * k if annual else k)
        if ts >= ctx.end_ts:
            break
        tx = f"so_{shape.short}{next(counter):07d}"
        amount = price * 10 if annual else price
        coupon = journey.coupon if k == 0 else ""
        rows.append(
            (
                ts,
                [
                    tx,
                    shape.program_id,
                    journey.customer_key,
                    "sale",
                    str(amount),
                    currency,
                    _iso_mixed(rng, ts),
                    "",
                    coupon,
                ],
            )
        )
        refund_ts = ts + rng.randrange(DAY, 30 * DAY)
        if rng.random() < 0.05 and refund_ts < ctx.end_ts:
            refunded = amount if rng.random() < 0.5 else round(amount * rng.uniform(0.2, 0.7))
            row = [
                f"so_{shape.short}{next(counter):07d}",
                shape.program_id,
                journey.customer_key,
                "refund",
                str(refunded),
                currency,
                iso(refund_ts),
                tx,
                "",
            ]
            rows.append((refund_ts, row))
        if rng.random() < shape.churn:
            break
    return rows


def _malformed_sales(rng: random.Random, rows: list[tuple[int, list[str]]], n: int) -> list[str]:
    lines = []
    sales = [row for _, row in rows if row[3] == "sale"]
    for k in range(n):
        row = list(rng.choice(sales))
        row[0] = f"{row[0]}x{k}"
        kind = k % 7
        if kind == 0:
            row[4] = "0"
        elif kind == 1:
            row[4] = "-1500"
        elif kind == 2:
            row[4] = "49.90"
        elif kind == 3:
            row[5] = "EURO"
        elif kind == 4:
            row[3], row[7] = "refund", "so_unknown_0001"
        elif kind == 5:
            row[3] = "chargeback"
        else:
            row[6] = row[6][:16].replace("T", " ")
        lines.append(_csv_line(row))
    return lines


def _write_sales(ctx: _Ctx) -> None:
    rng = ctx.rng("sales")
    rows: list[tuple[int, list[str]]] = []
    counters = {shape.program_id: itertools.count(1) for shape in PROGRAMS}
    for journey in ctx.journeys:
        if journey.channel == "sale":
            journey_rows = _sales_for(ctx, rng, journey, counters[journey.shape.program_id])
            rows += journey_rows
            ctx.add("customers", int(bool(journey_rows)))
    rows.sort(key=lambda item: (item[0], item[1][0]))
    lines = [_csv_line(row) for _, row in rows]
    bad = _malformed_sales(rng, rows, _bad_count(rng, len(lines), 7)) if rows else []
    _write_tracking_file(ctx, rng, "sales", "sales.csv", lines, bad)
