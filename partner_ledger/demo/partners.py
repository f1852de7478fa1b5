"""Partners (identity, status, payout details) and coupons."""

from __future__ import annotations

import random

from partner_ledger.demo.context import (
    _ascii_slug,
    _break_iban,
    _Ctx,
    _group_iban,
    _iso_mixed,
    _Partner,
    _person,
    _random_iban,
    iso,
)
from partner_ledger.demo.shape import (
    COMPANY_COUPONS,
    COMPANY_WORDS,
    DAY,
    MAIL_DOMAINS,
    PROGRAMS,
    RESERVED_CODES,
    ProgramShape,
)
from partner_ledger.rules.payout_details import is_valid_payout


def _partner_identity(rng: random.Random, used_codes: set[str]) -> tuple[str, str, str]:
    """(name, email, partner_code): a person or a small media company."""
    if rng.random() < 0.3:
        adjective, noun, suffix = (rng.choice(words) for words in COMPANY_WORDS)
        name = f"{adjective} {noun}{suffix}"
        slug = _ascii_slug(adjective + noun)
        email = f"{rng.choice(('partners', 'hello', 'team'))}@{slug}.example"
    else:
        first, last = _person(rng)
        name = f"{first} {last}"
        slug = _ascii_slug(first + last)
        email = f"{_ascii_slug(first)}.{_ascii_slug(last)}@{rng.choice(MAIL_DOMAINS)}"
    code = slug[:14]
    tries = 0
    while code in used_codes or code in RESERVED_CODES:
        # Two digits first (every scale up to M draws only these, so its files do not change).
        # A company slug is shared by about 1 % of the partners: at L (28,500 partners) one
        # slug has more than the 98 two-digit codes, and the loop never ended.
        tries += 1
        suffix = rng.randint(2, 99) if tries <= 50 else rng.randint(100, 99_999)
        code = f"{slug[:12]}{suffix}"
    used_codes.add(code)
    return name, email, code


def _payout_details(rng: random.Random, shape: ProgramShape, email: str) -> tuple[str, str]:
    """(method, account): mostly valid, a few missing or invalid (SPEC §2.9 reasons)."""
    methods = [m for m, _ in shape.payout_methods]
    method = rng.choices(methods, weights=[w for _, w in shape.payout_methods])[0]
    roll = rng.random()
    if roll < 0.03:
        return ("", "") if rng.random() < 0.5 else (method, "")
    if method == "sepa":
        iban = _random_iban(rng)
        if roll < 0.11:
            return method, _break_iban(rng, iban)
        if rng.random() < 0.15:  # written as on a bank statement: grouped, sometimes lower-case
            grouped = _group_iban(iban)
            return method, grouped.lower() if rng.random() < 0.3 else grouped
        return method, iban
    if method == "paypal":
        if roll < 0.09:
            local = email.split("@")[0]
            bad = (f"paypal.me/{local}", f"{local} at example.com", f"{local}@localhost")
            return method, rng.choice(bad)
        return method, email
    if method == "wise":
        return method, email if rng.random() < 0.7 else _random_iban(rng)
    return method, rng.choice(("invoice to accounting", "bank transfer per contract"))


def _make_partners(ctx: _Ctx) -> None:
    rng = ctx.rng("partners")
    used_codes: set[str] = set()
    for shape in PROGRAMS:
        program_partners: list[_Partner] = []
        n = max(6, round(shape.partners * ctx.scale))
        for i in range(n):
            name, email, code = _partner_identity(rng, used_codes)
            if rng.random() < 0.45:  # already in the program when the demo starts
                joined = ctx.start_ts - rng.randrange(7 * DAY, 540 * DAY)
            else:
                joined = ctx.start_ts + rng.randrange(
                    0, max(DAY, ctx.end_ts - ctx.start_ts - 20 * DAY)
                )
            partner = _Partner(
                idx=len(ctx.partners),
                shape=shape,
                partner_id=f"pt_{shape.short}{i + 1:05d}",
                code=code,
                name=name,
                email=email,
                joined_ts=joined - joined % 60,
                weight=rng.lognormvariate(0, 1.4),
            )
            partner.method, partner.account = _payout_details(rng, shape, email)
            ctx.partners.append(partner)
            program_partners.append(partner)
        _assign_recruiters(rng, program_partners)
        _assign_statuses(ctx, rng, program_partners)
    _edge_recruiters(ctx)
    for partner in ctx.partners:
        _fill_rows(ctx, rng, partner)


def _assign_recruiters(rng: random.Random, partners: list[_Partner]) -> None:
    by_join = sorted(partners, key=lambda p: (p.joined_ts, p.idx))
    for position, partner in enumerate(by_join):
        if position >= 3 and rng.random() < 0.2:
            earlier = by_join[:position]
            recruiter = rng.choices(earlier, weights=[p.weight for p in earlier])[0]
            partner.recruited_by = recruiter.partner_id


def _assign_statuses(ctx: _Ctx, rng: random.Random, partners: list[_Partner]) -> None:
    for partner in partners:
        roll = rng.random()
        if roll < 0.80:
            continue
        partner.status = "suspended" if roll < 0.90 or 0.98 <= roll < 0.99 else "terminated"
        if roll >= 0.98:  # non-active from the start, with no status_changed_at
            continue
        earliest = max(partner.joined_ts + 14 * DAY, ctx.start_ts - 90 * DAY)
        latest = max(earliest + DAY, ctx.end_ts - DAY)
        partner.changed_ts = rng.randrange(earliest, latest) // 60 * 60


def _edge_recruiters(ctx: _Ctx) -> None:
    """One partner who names itself as recruiter, one recruited across programs."""
    eur = [p for p in ctx.partners if p.shape.program_id == "prog_eur" and not p.recruited_by]
    usd = [p for p in ctx.partners if p.shape.program_id == "prog_usd" and not p.recruited_by]
    if len(usd) >= 2 and eur:
        usd[-1].recruited_by = usd[-1].partner_id
        eur[-1].recruited_by = usd[0].partner_id


def _partner_row(
    partner: _Partner, status: str, changed: str, method: str, account: str, joined: str
) -> list[str]:
    return [
        partner.partner_id,
        partner.shape.program_id,
        partner.code,
        partner.name,
        partner.email,
        partner.recruited_by,
        joined,
        status,
        changed,
        method,
        account,
    ]


def _fill_rows(ctx: _Ctx, rng: random.Random, partner: _Partner) -> None:
    """The row of the first partners file and, when something changed later, of the update."""
    joined = _iso_mixed(rng, partner.joined_ts)
    changed_in_window = partner.changed_ts is not None and partner.changed_ts >= ctx.start_ts
    first_status = "active" if changed_in_window else partner.status
    first_changed = (
        "" if changed_in_window or partner.changed_ts is None else iso(partner.changed_ts)
    )
    method, account = partner.method, partner.account
    fixed = not is_valid_payout(method, account) and rng.random() < 0.4
    if fixed:  # finance chased the partner for valid payout details
        method = method or "paypal"
        account = _random_iban(rng) if method == "sepa" else partner.email
    partner.base_row = _partner_row(
        partner, first_status, first_changed, partner.method, partner.account, joined
    )
    if changed_in_window or fixed or rng.random() < 0.03:
        changed = iso(partner.changed_ts) if partner.changed_ts is not None else ""
        partner.update_row = _partner_row(partner, partner.status, changed, method, account, joined)
        if not (changed_in_window or fixed):  # a new contact address
            local, _, domain = partner.email.partition("@")
            partner.update_row[4] = f"{local}+affiliates@{domain}"
    partner.method, partner.account = method, account


def _make_coupons(ctx: _Ctx) -> None:
    rng = ctx.rng("coupons")
    used: set[str] = set(COMPANY_COUPONS)
    for partner in ctx.partners:
        if rng.random() >= 0.3:
            continue
        for _ in range(1 if rng.random() < 0.85 else 2):
            base = "".join(ch for ch in partner.code.upper() if ch.isalpha())[:10] or "PARTNER"
            code = f"{base}{rng.choice((10, 15, 20, 25))}"
            while code in used:
                code = f"{base}{rng.randint(26, 99)}"
            used.add(code)
            ctx.coupons.append((code, partner.shape.program_id, partner.partner_id))
