"""Customer journeys: signups, the clicks and leads that convert, self-referrals."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime

from partner_ledger.demo.context import (
    _add_months,
    _ascii_slug,
    _Ctx,
    _daytime,
    _Journey,
    _Partner,
    _PartnerPicker,
    _person,
    _scaled,
    _ts,
    _visitor_id,
)
from partner_ledger.demo.shape import DAY, HOUR, MAIL_DOMAINS, PROGRAMS, ProgramShape


def _signup_times(ctx: _Ctx, rng: random.Random, n: int) -> list[int]:
    """Signup instants, growing over the months (later months get more)."""
    weights = [1 + 0.05 * m for m in range(ctx.months)]
    month_starts = [_ts(_add_months(_start_date(ctx), m)) for m in range(ctx.months + 1)]
    times = []
    for month in rng.choices(range(ctx.months), weights=weights, k=n):
        lo, hi = month_starts[month], month_starts[month + 1]
        day = lo + rng.randrange(0, (hi - lo) // DAY) * DAY
        times.append(max(ctx.start_ts + HOUR, min(_daytime(rng, day), ctx.end_ts - HOUR)))
    return sorted(times)


def _start_date(ctx: _Ctx) -> date:
    return datetime.fromtimestamp(ctx.start_ts, UTC).date()


def _delivery_dates(ctx: _Ctx) -> tuple[str, str]:
    """Dates naming a first file and its later version: path order is delivery order."""
    last = datetime.fromtimestamp(ctx.end_ts - DAY, UTC).date()
    return _start_date(ctx).isoformat(), last.isoformat()


def _customer_email(rng: random.Random, n: int) -> str:
    first, last = _person(rng)
    return f"{_ascii_slug(first)}.{_ascii_slug(last)}{n}@{rng.choice(MAIL_DOMAINS)}"


def _as_typed(rng: random.Random, email: str) -> str:
    """The email as a person types it: sometimes capitalised or padded with spaces."""
    roll = rng.random()
    if roll < 0.08:
        local, _, domain = email.partition("@")
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
    if roll < 0.11:
        return f" {email}  "
    return email


def _add_click(ctx: _Ctx, partner: _Partner, ts: int, visitor: int) -> int:
    ctx.jc_partner.append(partner.idx)
    ctx.jc_ts.append(ts)
    ctx.jc_visitor.append(visitor)
    return len(ctx.jc_ts) - 1


def _click_delay(rng: random.Random, window_days: int) -> int:
    """Seconds from the converting click to the signup: minutes to weeks, ~8 % past the window."""
    roll = rng.random()
    if roll < 0.6:
        return int(rng.lognormvariate(math.log(2 * HOUR), 1.2)) % (3 * DAY) + 60
    if roll < 0.92:
        return rng.randrange(DAY, window_days * DAY)
    return rng.randrange(window_days * DAY + HOUR, (window_days + 40) * DAY)


def _click_journey(
    ctx: _Ctx, rng: random.Random, picker: _PartnerPicker, journey: _Journey, kind: str
) -> None:
    assert journey.signup_ts is not None
    visitor = ctx.new_visitor()
    ts = journey.signup_ts - _click_delay(rng, journey.shape.click_window_days)
    partner = picker.pick(rng, ts)
    if partner is None or ts < ctx.start_ts:
        return
    last = _add_click(ctx, partner, ts, visitor)
    for _ in range(rng.choices((0, 1, 2), weights=(70, 22, 8))[0]):
        ts -= rng.randrange(HOUR, 20 * DAY)
        other = partner if rng.random() < 0.5 else picker.pick(rng, ts)
        if other is None or ts < ctx.start_ts:
            break
        _add_click(ctx, other, ts, visitor)
    if kind == "click_id":
        journey.signup_click = last
        journey.signup_visitor = _visitor_id(visitor) if rng.random() < 0.8 else ""
    elif kind == "visitor":
        journey.signup_visitor = _visitor_id(visitor)
    else:  # the click id travels through Stripe metadata only
        journey.stripe_click = last


def _lead_journey(ctx: _Ctx, rng: random.Random, picker: _PartnerPicker, journey: _Journey) -> None:
    assert journey.signup_ts is not None
    window = journey.shape.lead_window_days
    delay = (
        rng.randrange(HOUR, window * DAY)
        if rng.random() < 0.9
        else rng.randrange(window * DAY, (window + 30) * DAY)
    )
    ts = journey.signup_ts - delay
    partner = picker.pick(rng, ts)
    if partner is not None and ts >= ctx.start_ts:
        email = journey.email.upper() if rng.random() < 0.1 else journey.email
        ctx.leads.append((ts, journey.shape, partner.code, email))


def _make_journeys(ctx: _Ctx) -> None:
    rng = ctx.rng("journeys")
    coupon_owner = {c[2]: c[0] for c in ctx.coupons}
    for shape in PROGRAMS:
        partners = [p for p in ctx.partners if p.shape is shape]
        picker = _PartnerPicker(partners)
        coupon_partners = [p for p in partners if p.partner_id in coupon_owner]
        n = _scaled(shape.signups_per_year, ctx.customer_scale or ctx.scale, ctx.months)
        for number, signup_ts in enumerate(_signup_times(ctx, rng, n), start=1):
            email = _customer_email(rng, number)
            channel = rng.choices(("stripe", "sale", "none"), weights=(70, 8, 22))[0]
            journey = _Journey(
                shape,
                f"{shape.key_prefix}{number:06d}",
                email,
                _as_typed(rng, email),
                signup_ts,
                channel,
            )
            kind = rng.choices(
                ("click_id", "visitor", "stripe_click", "lead", "coupon", "self", "organic"),
                weights=(50, 12, 4, 10, 6, 0.6, 17.4),
            )[0]
            if kind == "stripe_click" and channel != "stripe":
                kind = "click_id"
            if kind in ("click_id", "visitor", "stripe_click"):
                _click_journey(ctx, rng, picker, journey, kind)
            elif kind == "lead":
                _lead_journey(ctx, rng, picker, journey)
            elif kind == "coupon" and coupon_partners:
                owner = rng.choice(coupon_partners)
                journey.coupon = coupon_owner[owner.partner_id]
                if rng.random() < 0.3:  # and a click of another partner
                    _click_journey(ctx, rng, picker, journey, "click_id")
            elif kind == "self":
                _self_referral(ctx, rng, picker, journey)
            elif rng.random() < 0.5:
                journey.signup_visitor = _visitor_id(ctx.new_visitor())
            ctx.journeys.append(journey)
        _stripe_only_customers(ctx, rng, shape, coupon_partners, coupon_owner, n)


def _self_referral(
    ctx: _Ctx, rng: random.Random, picker: _PartnerPicker, journey: _Journey
) -> None:
    """A partner signs up through their own link, with their own email."""
    assert journey.signup_ts is not None
    ts = journey.signup_ts - rng.randrange(60, 2 * HOUR)
    partner = picker.pick(rng, ts)
    if partner is None or ts < ctx.start_ts:
        return
    journey.email = partner.email.strip().lower()
    journey.signup_email = partner.email.title() if rng.random() < 0.5 else partner.email
    journey.signup_click = _add_click(ctx, partner, ts, ctx.new_visitor())


def _stripe_only_customers(
    ctx: _Ctx,
    rng: random.Random,
    shape: ProgramShape,
    coupon_partners: list[_Partner],
    coupon_owner: dict[str, str],
    signups: int,
) -> None:
    """Stripe customers without a signup row (sales-led deals, imports): key = Stripe id."""
    for k in range(max(2, round(signups * 0.05))):
        ts = rng.randrange(ctx.start_ts + DAY, ctx.end_ts - DAY)
        journey = _Journey(shape, "", _customer_email(rng, 900_000 + k), "", None, "stripe")
        journey.signup_email = journey.email
        if coupon_partners and rng.random() < 0.4:
            journey.coupon = coupon_owner[rng.choice(coupon_partners).partner_id]
        journey.created_ts = ts
        ctx.journeys.append(journey)


def _make_background_leads(ctx: _Ctx) -> None:
    rng = ctx.rng("leads")
    for shape in PROGRAMS:
        picker = _PartnerPicker([p for p in ctx.partners if p.shape is shape])
        for k in range(_scaled(shape.leads_per_year, ctx.scale, ctx.months)):
            ts = rng.randrange(ctx.start_ts, ctx.end_ts)
            partner = picker.pick(rng, ts)
            if partner is not None:
                ctx.leads.append((ts, shape, partner.code, _customer_email(rng, 500_000 + k)))
