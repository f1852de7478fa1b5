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
"""

from __future__ import annotations

import bisect
import calendar
import csv
import gzip
import io
import itertools
import json
import math
import random
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl

from partner_ledger.io.warehouse import STRIPE_OBJECTS, TRACKING_COLUMNS
from partner_ledger.rules.payout_details import iban_check_digits, is_valid_payout

# --- file contract (SPEC §1.1) ------------------------------------------------------------------

TRACKING_HEADERS: dict[str, tuple[str, ...]] = {
    table: tuple(columns) for table, columns in TRACKING_COLUMNS.items()
}
STRIPE_FILES: tuple[str, ...] = tuple(STRIPE_OBJECTS)

# --- shape of the demo (data-shape knobs, not money rules: those live in seeds/) ------------------

CLICK_CHUNK_ROWS = 1_000_000  # upper bound of rows generated and written at once
DAY = 86_400
HOUR = 3_600
NEVER = 2**62  # "no status change" sentinel for click suppression
UNKNOWN_CODES: tuple[str, ...] = ("undefined", "summer-promo", "oldblog", "test", "null")
RESERVED_CODES = frozenset(UNKNOWN_CODES)
LANDING_PATHS: tuple[str, ...] = ("/", "/pricing", "/features", "/blog/review", "/signup", "/demo")
# Relative click intensity by UTC hour (acceptance probability of a uniformly drawn instant).
HOUR_PROFILE: tuple[float, ...] = (
    0.35, 0.3, 0.3, 0.3, 0.35, 0.45, 0.6, 0.75, 0.9, 1.0, 1.0, 1.0,
    0.95, 0.95, 1.0, 1.0, 0.95, 0.9, 0.85, 0.85, 0.8, 0.7, 0.55, 0.45,
)  # fmt: skip
WEEKEND_FACTOR = 0.75


@dataclass(frozen=True)
class ProgramShape:
    """How the demo data of one program looks (ids and currency match ``seeds/programs.csv``)."""

    program_id: str
    currency: str
    short: str  # partner id prefix letter
    domain: str
    key_prefix: str  # the company's own customer_key prefix
    partners: int  # at scale 1
    signups_per_year: int  # at scale 1
    clicks_per_day: int  # background clicks at scale 1
    leads_per_year: int  # leads that never convert, at scale 1
    adjustments_per_year: int
    click_window_days: int  # used to place most converting clicks inside the window
    lead_window_days: int
    plans: tuple[int, ...]  # monthly net prices in cents
    plan_weights: tuple[float, ...]
    packages: tuple[int, ...]  # one-time charges (onboarding, migration...)
    tax_rates: tuple[float, ...]
    taxed_share: float
    churn: float  # monthly
    payout_methods: tuple[tuple[str, float], ...]


PROGRAMS: tuple[ProgramShape, ...] = (
    ProgramShape(
        program_id="prog_eur",
        currency="EUR",
        short="e",
        domain="nordlicht-analytics.example",
        key_prefix="cust_",
        partners=150,
        signups_per_year=1400,
        clicks_per_day=1100,
        leads_per_year=900,
        adjustments_per_year=14,
        click_window_days=30,
        lead_window_days=60,
        plans=(1900, 4900, 9900, 19900, 29900),
        plan_weights=(0.30, 0.32, 0.22, 0.11, 0.05),
        packages=(29900, 49900, 99900),
        tax_rates=(0.19, 0.20, 0.21),
        taxed_share=0.55,
        churn=0.055,
        payout_methods=(("sepa", 0.45), ("paypal", 0.30), ("wise", 0.18), ("manual", 0.04)),
    ),
    ProgramShape(
        program_id="prog_usd",
        currency="USD",
        short="u",
        domain="cobalt-crm.example",
        key_prefix="acct_",
        partners=150,
        signups_per_year=1300,
        clicks_per_day=950,
        leads_per_year=800,
        adjustments_per_year=10,
        click_window_days=45,
        lead_window_days=90,
        plans=(2900, 7900, 14900, 29900),
        plan_weights=(0.35, 0.35, 0.2, 0.1),
        packages=(49900, 149900),
        tax_rates=(0.0725, 0.0825, 0.0888),
        taxed_share=0.3,
        churn=0.07,
        payout_methods=(("paypal", 0.52), ("wise", 0.28), ("manual", 0.10), ("sepa", 0.06)),
    ),
)

FIRST_NAMES: tuple[str, ...] = (
    "Mira", "Noah", "Olga", "Liam", "Sofia", "Mateo", "Emma", "Lukas", "Aisha", "Jonas",
    "Chloé", "Yuki", "Ravi", "Ingrid", "Tomás", "Zoë", "Kwame", "Leila", "Pieter", "Anouk",
    "Søren", "Marta", "Hugo", "Elif", "Diego", "Priya", "Felix", "Nora", "Omar", "Julia",
    "Björn", "Camille", "Ana", "Kenji", "Fatima", "Luca", "Hannah", "Mohammed", "Sara", "Oskar",
    "Ewa", "Giulia", "Théo", "Amara", "Nils", "Leonie", "Grace", "Mei", "Jakub", "Ines",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Costa", "Berg", "Ivanova", "Müller", "García", "Rossi", "Dubois", "Nakamura", "Patel",
    "Jansen", "Kowalski", "Nielsen", "Silva", "O'Brien", "Fischer", "Haddad", "Novak",
    "Lindqvist", "Moreau", "Yılmaz", "Okafor", "Schmidt", "Dijkstra", "Ferrari", "Ólafsdóttir",
    "Kim", "Singh", "Wagner", "López", "Virtanen", "Brown", "Chen", "Andersen", "Mensah", "Weber",
)  # fmt: skip
COMPANY_WORDS: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = (
    ("SaaS", "Growth", "Deal", "Startup", "Cloud", "Indie", "Tool", "Data", "Remote", "B2B"),
    ("Scout", "Digest", "Radar", "Stack", "Hub", "Weekly", "Lab", "Review", "Insider", "Compass"),
    ("", " Media", ", LLC", " GmbH", " Ltd.", " B.V.", " & Co.", ""),
)
MAIL_DOMAINS: tuple[str, ...] = (
    "example.com",
    "example.org",
    "example.net",
    "mail.example",
    "inbox.example",
)
COMPANY_COUPONS: tuple[str, ...] = ("WELCOME10", "BLACKFRIDAY30", "LAUNCH15")
# (country, BBAN layout: "n" digit, "a" upper-case letter, "c" letter or digit)
IBAN_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("DE", "n" * 18),
    ("FR", "n" * 23),
    ("NL", "aaaa" + "n" * 10),
    ("ES", "n" * 20),
    ("IT", "a" + "n" * 10 + "c" * 12),
    ("BE", "n" * 12),
    ("AT", "n" * 16),
    ("PT", "n" * 21),
)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
BYTE_TO_ALNUM = bytes(ALNUM[b % len(ALNUM)].encode()[0] for b in range(256))


@dataclass(frozen=True)
class DemoStats:
    """What one generation wrote. Counts are distinct valid records, malformed rows apart."""

    partners: int  # distinct partner ids (both programs)
    partner_rows: int  # valid partner rows over both version files
    coupons: int
    clicks: int  # valid click rows, the late file included
    late_clicks: int  # rows of clicks/<year>-late.csv
    redelivered_clicks: int  # rows sent again, unchanged, at the top of the next month's file
    leads: int
    signups: int
    customers: int  # paying customers (Stripe or Sale API)
    stripe_customers: int
    invoices: int
    charges: int
    refunds: int
    disputes: int
    sales: int  # Sale API rows, sales and refunds
    adjustments: int  # distinct adjustment ids
    malformed_rows: int  # rows / lines written to be quarantined
    files: int
    first_day: date
    last_day: date


# --- small pure helpers ------------------------------------------------------------------------


def _random_iban(rng: random.Random) -> str:
    country, layout = rng.choice(IBAN_LAYOUTS)
    pick = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "c": ALNUM[:26] + ALNUM[52:]}
    bban = "".join(rng.choice(pick[kind]) for kind in layout)
    return country + iban_check_digits(country, bban) + bban


def _break_iban(rng: random.Random, iban: str) -> str:
    """Change one BBAN digit: mod-97 catches every single substitution."""
    positions = [i for i in range(4, len(iban)) if iban[i].isdigit()]
    i = rng.choice(positions)
    return iban[:i] + str((int(iban[i]) + rng.randint(1, 9)) % 10) + iban[i + 1 :]


def _group_iban(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _ts(day: date) -> int:
    return calendar.timegm(day.timetuple())


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _add_months_ts(ts: int, months: int) -> int:
    moment = datetime.fromtimestamp(ts, UTC)
    day = _add_months(moment.date(), months)
    return _ts(day) + (ts % DAY)


def iso(ts: int, offset_minutes: int = 0) -> str:
    """ISO-8601 with ``Z``, or with the given UTC offset (the same instant)."""
    moment = datetime.fromtimestamp(ts, UTC)
    if offset_minutes == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    local = moment + timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hours:02d}:{minutes:02d}"


def _iso_mixed(rng: random.Random, ts: int) -> str:
    """Mostly ``Z``; one in ten written with a +02:00 offset (a CEST producer)."""
    return iso(ts, 120) if rng.random() < 0.1 else iso(ts)


def _visitor_id(number: int) -> str:
    """A random-looking, collision-free visitor id (a bijection of ``number`` mod 10^10)."""
    return f"v_{(number * 2654435761 + 48271) % 10**10:010d}"


def _daytime(rng: random.Random, day_start: int) -> int:
    """An instant of the day, weighted to working hours."""
    return day_start + int(rng.triangular(5, 24, 14) * HOUR) + rng.randrange(HOUR)


def _stripe_id(rng: random.Random, prefix: str, seen: set[str]) -> str:
    """A Stripe-looking id (``cus_1`` + 23 letters or digits), unique within the generation."""
    while True:
        candidate = prefix + "1" + rng.randbytes(23).translate(BYTE_TO_ALNUM).decode()
        if candidate not in seen:
            seen.add(candidate)
            return candidate


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _csv_line(fields: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()


def _scaled(base: float, scale: int, months: int) -> int:
    return max(1, round(base * scale * months / 12))


@contextmanager
def _open_out(path: Path) -> Iterator[IO[bytes]]:
    """A binary output file; ``.gz`` gets a reproducible gzip header (no name, mtime 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
                yield gz
        else:
            yield raw


def _write_lines(path: Path, header: Sequence[str] | None, lines: Sequence[str]) -> None:
    with _open_out(path) as out:
        if header is not None:
            out.write(_csv_line(header).encode())
        out.write("".join(lines).encode())


def _interleave(rng: random.Random, lines: list[str], extra: Sequence[str]) -> list[str]:
    """``lines`` with each of ``extra`` inserted at a random position."""
    out = list(lines)
    for line in extra:
        out.insert(rng.randint(0, len(out)), line)
    return out


def _write_tracking_file(
    ctx: _Ctx, rng: random.Random, name: str, file_name: str, rows: list[str], bad: Sequence[str]
) -> None:
    """``tracking/<name>/<file_name>``: its header, ``rows`` with the malformed ``bad`` lines at
    random places; counted as ``name`` rows, malformed rows and one file."""
    _write_lines(
        ctx.landing / "tracking" / name / file_name,
        TRACKING_HEADERS[name],
        _interleave(rng, rows, bad),
    )
    ctx.add(name, len(rows))
    ctx.add("malformed_rows", len(bad))
    ctx.add("files")


# --- the generation context ---------------------------------------------------------------------


@dataclass
class _Partner:
    idx: int
    shape: ProgramShape
    partner_id: str
    code: str
    name: str
    email: str
    joined_ts: int
    weight: float
    recruited_by: str = ""
    status: str = "active"
    changed_ts: int | None = None
    method: str = ""
    account: str = ""
    base_row: list[str] = field(default_factory=list)
    update_row: list[str] | None = None

    @property
    def stop_ts(self) -> int:
        """From when the partner is no longer active (clicks mostly stop)."""
        if self.status == "active":
            return NEVER
        return self.joined_ts if self.changed_ts is None else self.changed_ts


@dataclass
class _Journey:
    shape: ProgramShape
    customer_key: str
    email: str  # canonical (trimmed, lower-case)
    signup_email: str  # as typed on the signup form
    signup_ts: int | None  # None: no signup (a Stripe customer that came another way)
    channel: str  # stripe | sale | none
    signup_click: int = -1  # index into the journey clicks, or -1
    signup_visitor: str = ""
    stripe_click: int = -1
    coupon: str = ""
    created_ts: int = 0  # without a signup: when the Stripe customer appeared


@dataclass
class _Ctx:
    """State shared by the steps of one generation (never module-level)."""

    landing: Path
    seed: int
    scale: int
    months: int
    start_ts: int
    end_ts: int
    customer_scale: int = 0  # 0: the same as scale
    partners: list[_Partner] = field(default_factory=list)
    coupons: list[tuple[str, str, str]] = field(default_factory=list)  # code, program, partner
    journeys: list[_Journey] = field(default_factory=list)
    jc_partner: list[int] = field(default_factory=list)  # journey clicks, partner idx
    jc_ts: list[int] = field(default_factory=list)
    jc_visitor: list[int] = field(default_factory=list)
    jc_click_id: list[str] = field(default_factory=list)
    leads: list[tuple[int, ProgramShape, str, str]] = field(default_factory=list)
    stripe_ids: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    visitor_pool: int = 1
    next_visitor: int = 0

    def rng(self, name: str) -> random.Random:
        """An independent stream per step, so one step's draws never shift another's."""
        return random.Random(f"{self.seed}:{self.scale}:{name}")

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def new_visitor(self) -> int:
        self.next_visitor += 1
        return self.visitor_pool + self.next_visitor


class _PartnerPicker:
    """Weighted choice of a program's partner that had joined by a given instant."""

    def __init__(self, partners: list[_Partner]) -> None:
        self.ordered = sorted(partners, key=lambda p: (p.joined_ts, p.idx))
        self.joined = [p.joined_ts for p in self.ordered]
        self.cumulative = list(itertools.accumulate(p.weight for p in self.ordered))

    def pick(self, rng: random.Random, ts: int) -> _Partner | None:
        k = bisect.bisect_right(self.joined, ts)
        if k == 0:
            return None
        partner = self.ordered[0]
        for _ in range(3):  # links outlive a partner, but traffic mostly stops
            u = rng.random() * self.cumulative[k - 1]
            partner = self.ordered[min(bisect.bisect_right(self.cumulative, u, 0, k), k - 1)]
            if partner.stop_ts > ts or rng.random() < 0.15:
                return partner
        return partner


# --- partners and coupons -----------------------------------------------------------------------


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
    while code in used_codes or code in RESERVED_CODES:
        code = f"{slug[:12]}{rng.randint(2, 99)}"
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


# --- journeys: signups, converting clicks and leads -----------------------------------------------


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


# --- clicks (vectorised, chunked) -------------------------------------------------------------


@dataclass(frozen=True)
class _ClickTables:
    """Per-partner arrays the vectorised click generator gathers from."""

    joined: np.ndarray
    stop: np.ndarray
    cumulative: np.ndarray
    program: pl.Series
    domain: pl.Series
    code: pl.Series
    rate_per_day: float


def _click_tables(ctx: _Ctx) -> _ClickTables:
    weights = np.zeros(len(ctx.partners))
    for shape in PROGRAMS:
        members = [p.idx for p in ctx.partners if p.shape is shape]
        total = sum(ctx.partners[i].weight for i in members)
        for i in members:
            weights[i] = ctx.partners[i].weight / total * shape.clicks_per_day
    return _ClickTables(
        joined=np.array([p.joined_ts for p in ctx.partners], dtype=np.int64),
        stop=np.array([min(p.stop_ts, NEVER) for p in ctx.partners], dtype=np.int64),
        cumulative=np.cumsum(weights),
        program=pl.Series([p.shape.program_id for p in ctx.partners], dtype=pl.String),
        domain=pl.Series([p.shape.domain for p in ctx.partners], dtype=pl.String),
        code=pl.Series([p.code for p in ctx.partners], dtype=pl.String),
        rate_per_day=float(sum(s.clicks_per_day for s in PROGRAMS) * ctx.scale),
    )


def _acceptance(ts: np.ndarray) -> np.ndarray:
    hours = (ts % DAY) // HOUR
    weekday = ((ts // DAY) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    return np.asarray(HOUR_PROFILE)[hours] * np.where(weekday >= 5, WEEKEND_FACTOR, 1.0)


def _mean_acceptance() -> float:
    return float(np.mean(HOUR_PROFILE)) * (5 + 2 * WEEKEND_FACTOR) / 7


def _background_clicks(
    gen: np.random.Generator, tables: _ClickTables, lo: int, hi: int, growth: float, pool: int
) -> pl.DataFrame:
    """Clicks of all partners in [lo, hi): intensity by hour and weekday, popularity-weighted."""
    expected = tables.rate_per_day * (hi - lo) / DAY * growth / _mean_acceptance()
    n = int(gen.poisson(expected))
    ts = gen.integers(lo, hi, n, dtype=np.int64)
    partner = np.searchsorted(
        tables.cumulative, gen.random(n) * tables.cumulative[-1], side="right"
    )
    partner = np.minimum(partner, len(tables.cumulative) - 1)
    keep = gen.random(n) < _acceptance(ts)
    keep &= ts >= tables.joined[partner]
    keep &= (ts < tables.stop[partner]) | (gen.random(n) < 0.1)
    m = int(keep.sum())
    return pl.DataFrame(
        {
            "ts": ts[keep],
            "partner": partner[keep].astype(np.int64),
            "visitor": gen.integers(0, pool, m, dtype=np.int64),
            "journey": np.full(m, -1, dtype=np.int64),
            "path": gen.integers(0, len(LANDING_PATHS), m, dtype=np.int64),
            "utm": gen.random(m) < 0.3,
            "offset": gen.random(m) < 0.08,
            "unknown": np.where(gen.random(m) < 0.0015, gen.integers(0, len(UNKNOWN_CODES), m), -1),
            "bad": np.where(gen.random(m) < 0.002, gen.integers(0, 4, m), -1),
        }
    )


@dataclass(frozen=True)
class _JourneyClicks:
    """The converting clicks of the journeys, sorted by time, as arrays."""

    ts: np.ndarray
    partner: np.ndarray
    visitor: np.ndarray
    index: np.ndarray  # position in ctx.jc_* (what the signup refers to)

    @classmethod
    def of(cls, ctx: _Ctx) -> _JourneyClicks:
        ts = np.asarray(ctx.jc_ts, dtype=np.int64)
        order = np.argsort(ts, kind="stable")
        return cls(
            ts=ts[order],
            partner=np.asarray(ctx.jc_partner, dtype=np.int64)[order],
            visitor=np.asarray(ctx.jc_visitor, dtype=np.int64)[order],
            index=order.astype(np.int64),
        )

    def frame(self, gen: np.random.Generator, lo: int, hi: int) -> pl.DataFrame:
        """The clicks in [lo, hi), in the columns of ``_background_clicks``."""
        rows = slice(np.searchsorted(self.ts, lo), np.searchsorted(self.ts, hi))
        m = len(self.ts[rows])
        return pl.DataFrame(
            {
                "ts": self.ts[rows],
                "partner": self.partner[rows],
                "visitor": self.visitor[rows],
                "journey": self.index[rows],
                "path": gen.integers(0, len(LANDING_PATHS), m, dtype=np.int64),
                "utm": gen.random(m) < 0.3,
                "offset": gen.random(m) < 0.08,
                "unknown": np.full(m, -1, dtype=np.int64),
                "bad": np.full(m, -1, dtype=np.int64),
            }
        )


def _format_clicks(frame: pl.DataFrame, tables: _ClickTables, first_number: int) -> pl.DataFrame:
    """The CSV columns of a chunk, numbered in order; ``bad`` rows (0-3) corrupted on purpose."""
    partner = frame["partner"]
    moment = pl.from_epoch("ts", time_unit="s")
    code = (
        pl.when(pl.col("unknown") >= 0)
        .then(
            pl.col("unknown").replace_strict(
                list(range(len(UNKNOWN_CODES))), list(UNKNOWN_CODES), default=""
            )
        )
        .otherwise(pl.col("code"))
    )
    path = pl.col("path").replace_strict(list(range(len(LANDING_PATHS))), list(LANDING_PATHS))
    scrambled = (pl.col("visitor") * 2654435761 + 48271) % 10**10
    return frame.with_columns(
        number=pl.int_range(pl.len(), dtype=pl.Int64) + first_number,
        program_id=tables.program.gather(partner),
        domain=tables.domain.gather(partner),
        code=tables.code.gather(partner),
    ).select(
        click_id=pl.when(pl.col("bad") == 2)
        .then(pl.lit(""))
        .otherwise(pl.concat_str(pl.lit("clk_"), pl.col("number").cast(pl.String).str.zfill(10))),
        program_id=pl.when(pl.col("bad") == 3)
        .then(pl.lit("prog_legacy"))
        .otherwise(pl.col("program_id")),
        partner_code=code,
        occurred_at=pl.when(pl.col("bad") == 0)
        .then(moment.dt.strftime("%Y-%m-%d %H:%M:%S"))
        .when(pl.col("bad") == 1)
        .then(moment.dt.strftime("%Y-%m-%d"))
        .when(pl.col("offset"))
        .then((moment + pl.duration(hours=2)).dt.strftime("%Y-%m-%dT%H:%M:%S+02:00"))
        .otherwise(moment.dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
        visitor_id=pl.concat_str(pl.lit("v_"), scrambled.cast(pl.String).str.zfill(10)),
        landing_url=pl.concat_str(
            pl.lit("https://"),
            pl.col("domain"),
            path,
            pl.lit("?aff="),
            code,
            pl.when(pl.col("utm"))
            .then(pl.lit("&utm_source=partner&utm_medium=affiliate"))
            .otherwise(pl.lit("")),
        ),
        journey=pl.col("journey"),
        number=pl.col("number"),
        bad=pl.col("bad"),
        ts=pl.col("ts"),
    )


def _ragged_click_lines(
    gen: np.random.Generator, tables: _ClickTables, lo: int, hi: int, k: int
) -> list[str]:
    """Rows with a wrong number of fields (a producer that dropped or added a column)."""
    lines = []
    for j in range(k):
        ts = int(gen.integers(lo, hi))
        partner = int(gen.integers(0, len(tables.code)))
        base = [f"clk_x{ts}{j}", tables.program[partner], tables.code[partner], iso(ts)]
        lines.append(
            _csv_line(base if j % 2 == 0 else [*base, "v_0", "https://x.example/", "extra"])
        )
    return lines


def _click_chunk(
    ctx: _Ctx,
    gen: np.random.Generator,
    tables: _ClickTables,
    journeys: _JourneyClicks,
    span: tuple[int, int],
    growth: float,
    first_number: int,
) -> pl.DataFrame:
    """All clicks of [lo, hi), background and converting, in time order, numbered from
    ``first_number``."""
    lo, hi = span
    chunk = pl.concat(
        [
            _background_clicks(gen, tables, lo, hi, growth, ctx.visitor_pool),
            journeys.frame(gen, lo, hi),
        ]
    )
    chunk = chunk.with_columns(seq=pl.int_range(pl.len())).sort(["ts", "seq"]).drop("seq")
    return _format_clicks(chunk, tables, first_number)


def _write_clicks(ctx: _Ctx) -> None:
    """Month files ``clicks/YYYY-MM.csv`` (every fourth month gzipped) and ``<year>-late.csv``.

    Clicks during a 36-hour tracking outage in the third month reach the landing directory only
    in the late file, with their original timestamps (converting clicks included). The export
    overlaps: each month file begins with the previous month's last two hours of clicks again,
    unchanged (SPEC §1.1: the newest delivery of a click id is its version). Each month is
    generated in slices of at most ``CLICK_CHUNK_ROWS`` rows, appended to its file.
    """
    gen = np.random.default_rng([ctx.seed, ctx.scale, 7])
    tables = _click_tables(ctx)
    journeys = _JourneyClicks.of(ctx)
    start = _start_date(ctx)
    outage_lo = _ts(_add_months(start, min(2, ctx.months - 1))) + 10 * DAY + 6 * HOUR
    in_outage = (pl.col("ts") >= outage_lo) & (pl.col("ts") < outage_lo + 36 * HOUR)
    columns = list(TRACKING_HEADERS["clicks"])
    click_numbers = np.full(len(ctx.jc_ts), -1, dtype=np.int64)
    number = 1
    folder = ctx.landing / "tracking" / "clicks"
    overlap = pl.DataFrame()
    with _open_out(folder / f"{start.year}-late.csv") as late:
        late.write(_csv_line(columns).encode())
        for m in range(ctx.months):
            lo, hi = _ts(_add_months(start, m)), _ts(_add_months(start, m + 1))
            growth = 0.85 + 0.3 * m / max(1, ctx.months - 1)
            slices = max(1, math.ceil(tables.rate_per_day * (hi - lo) / DAY / CLICK_CHUNK_ROWS))
            suffix = ".csv.gz" if m % 4 == 3 else ".csv"
            with _open_out(folder / f"{_add_months(start, m):%Y-%m}{suffix}") as out:
                out.write(_csv_line(columns).encode())
                if overlap.height:
                    overlap.select(columns).write_csv(out, include_header=False)
                    ctx.add("redelivered_clicks", overlap.height)
                for k in range(slices):
                    span = (lo + (hi - lo) * k // slices, lo + (hi - lo) * (k + 1) // slices)
                    rows = _click_chunk(ctx, gen, tables, journeys, span, growth, number)
                    number += rows.height
                    converting = rows.filter(pl.col("journey") >= 0)
                    click_numbers[converting["journey"].to_numpy()] = converting[
                        "number"
                    ].to_numpy()
                    rows.filter(~in_outage).select(columns).write_csv(out, include_header=False)
                    delayed = rows.filter(in_outage)
                    delayed.select(columns).write_csv(late, include_header=False)
                    ragged = _ragged_click_lines(gen, tables, *span, max(1, rows.height // 5000))
                    out.write("".join(ragged).encode())
                    bad = int((rows["bad"] >= 0).sum())
                    ctx.add("malformed_rows", bad + len(ragged))
                    ctx.add("clicks", rows.height - bad)
                    ctx.add("late_clicks", int((delayed["bad"] < 0).sum()))
                overlap = rows.filter(
                    ~in_outage & (pl.col("bad") < 0) & (pl.col("ts") >= hi - 2 * HOUR)
                )
            ctx.add("files")
    ctx.add("files")
    ctx.jc_click_id = [f"clk_{n:010d}" if n >= 0 else "" for n in click_numbers.tolist()]


# --- tracking files other than clicks ---------------------------------------------------------


def _bad_count(rng: random.Random, rows: int, kinds: int) -> int:
    """About 0.5 % of a file, and at least one row of each malformed kind."""
    return max(kinds, round(rows * 0.005 * (0.8 + 0.4 * rng.random())))


def _malformed_partners(ctx: _Ctx, rng: random.Random, n: int) -> list[str]:
    lines = []
    for k in range(n):
        partner = rng.choice(ctx.partners)
        row = list(partner.base_row)
        row[0] = f"pt_{partner.shape.short}9{k:04d}"
        row[2] = f"{partner.code}-{k}"  # a code of its own: one reason per bad row
        kind = k % 6
        if kind == 0:
            row[6] = iso(partner.joined_ts)[:19]  # no Z, no offset
        elif kind == 1:
            row[7] = "paused"
        elif kind == 2:
            row[9] = "bank_transfer"
        elif kind == 3:
            row[0] = ""
        elif kind == 4:
            row[1] = "prog_gbp"
        else:
            row = row[:8]
        lines.append(_csv_line(row))
    return lines


def _write_partners(ctx: _Ctx) -> None:
    rng = ctx.rng("partners-files")
    folder = ctx.landing / "tracking" / "partners"
    base = [_csv_line(p.base_row) for p in ctx.partners]
    bad = _malformed_partners(ctx, rng, _bad_count(rng, len(base), 6))
    first, last = _delivery_dates(ctx)
    _write_lines(
        folder / f"partners-{first}.csv", TRACKING_HEADERS["partners"], _interleave(rng, base, bad)
    )
    updates = [_csv_line(p.update_row) for p in ctx.partners if p.update_row is not None]
    # A new partner whose code is already taken: quarantined as duplicate_partner_code.
    taken = ctx.partners[0]
    clash = _partner_row(
        taken, "active", "", "paypal", "copycat@example.net", iso(ctx.end_ts - 30 * DAY)
    )
    clash[0], clash[3], clash[4] = f"pt_{taken.shape.short}88888", "Copy Cat", "copycat@example.net"
    _write_lines(
        folder / f"partners-{last}.csv",
        TRACKING_HEADERS["partners"],
        [*updates, _csv_line(clash)],
    )
    ctx.add("partners", len(ctx.partners))
    ctx.add("partner_rows", len(base) + len(updates))
    ctx.add("malformed_rows", len(bad) + 1)
    ctx.add("files", 2)


def _write_coupons(ctx: _Ctx) -> None:
    rng = ctx.rng("coupons-file")
    rows = [_csv_line(c) for c in ctx.coupons]
    bad = [
        _csv_line([f"BAD{k}", "prog_eur", ""])
        if k % 2 == 0
        else _csv_line([f"BAD{k}", "prog_xyz", ctx.partners[0].partner_id])
        for k in range(_bad_count(rng, len(rows), 2))
    ]
    _write_tracking_file(ctx, rng, "coupons", "coupons.csv", rows, bad)


def _write_leads(ctx: _Ctx) -> None:
    """``leads/leads.csv.gz``, in time order."""
    rng = ctx.rng("leads-file")
    leads = sorted(ctx.leads, key=lambda lead: (lead[0], lead[1].program_id, lead[2], lead[3]))
    rows = [
        _csv_line([f"lead_{n:07d}", shape.program_id, code, email, _iso_mixed(rng, ts)])
        for n, (ts, shape, code, email) in enumerate(leads, start=1)
    ]
    bad = []
    for k in range(_bad_count(rng, len(rows), 3)):
        ts, shape, code, email = rng.choice(leads)
        if k % 3 == 0:
            bad.append(_csv_line([f"lead_9{k:06d}", shape.program_id, code, email, iso(ts)[:10]]))
        elif k % 3 == 1:
            bad.append(_csv_line(["", shape.program_id, code, email, iso(ts)]))
        else:
            bad.append(_csv_line([f"lead_9{k:06d}", shape.program_id, code]))
    _write_tracking_file(ctx, rng, "leads", "leads.csv.gz", rows, bad)


def _write_signups(ctx: _Ctx) -> None:
    rng = ctx.rng("signups-file")
    rows = []
    for journey in ctx.journeys:
        if journey.signup_ts is None:
            continue
        click = ctx.jc_click_id[journey.signup_click] if journey.signup_click >= 0 else ""
        rows.append(
            (
                journey.signup_ts,
                [
                    journey.shape.program_id,
                    journey.customer_key,
                    journey.signup_email,
                    _iso_mixed(rng, journey.signup_ts),
                    click,
                    journey.signup_visitor,
                ],
            )
        )
    rows.sort(key=lambda row: (row[0], row[1][0], row[1][1]))
    lines = [_csv_line(row) for _, row in rows]
    bad = []
    for k in range(_bad_count(rng, len(lines), 3)):
        _, row = rng.choice(rows)
        broken = list(row)
        if k % 3 == 0:
            broken[1] = ""
        elif k % 3 == 1:
            broken[3] = broken[3][:10]
        else:
            broken[0] = "prog_legacy"
        bad.append(_csv_line(broken))
    _write_tracking_file(ctx, rng, "signups", "signups.csv", lines, bad)


# --- billing: Stripe objects and Sale API rows --------------------------------------------------


@dataclass
class _Stripe:
    """Stripe JSON lines by file: first versions and later versions, as (time, id, line).

    Objects are serialised when added, so a later change to a dict never alters a written line.
    """

    first: dict[str, list[tuple[int, str, str]]] = field(
        default_factory=lambda: {name: [] for name in STRIPE_FILES}
    )
    later: dict[str, list[tuple[int, str, str]]] = field(
        default_factory=lambda: {name: [] for name in STRIPE_FILES}
    )
    paid_charges: list[tuple[str, str, int]] = field(default_factory=list)  # id, currency, created

    def add(self, name: str, ts: int, obj: dict[str, Any]) -> None:
        self.first[name].append((ts, obj["id"], json.dumps(obj)))
        if name == "charges" and obj["status"] == "succeeded":
            self.paid_charges.append((obj["id"], obj["currency"], obj["created"]))

    def update(self, name: str, ts: int, obj: dict[str, Any]) -> None:
        self.later[name].append((ts, obj["id"], json.dumps(obj)))


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
        rng.choice(out.paid_charges) if out.paid_charges else ("ch_none", "eur", 0)
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
    malformed = _malformed_stripe(ctx, rng, out)
    for name in STRIPE_FILES:
        lines = [line + "\n" for _, _, line in sorted(out.first[name])]
        lines = _interleave(rng, lines, [line + "\n" for line in malformed[name]])
        lines += [line + "\n" for _, _, line in sorted(out.later[name])]
        _write_lines(ctx.landing / "stripe" / f"{name}.jsonl", None, lines)
        ctx.add("malformed_rows", len(malformed[name]))
        ctx.add("files")


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


# --- finance adjustments ------------------------------------------------------------------------

ADJUSTMENT_REASONS: tuple[tuple[str, int, int], ...] = (
    ("bonus: top partner of the quarter", 10000, 50000),
    ("bonus: co-hosted webinar", 2500, 15000),
    ("goodwill: tracking outage", 1000, 10000),
    ("correction: duplicate commission", -20000, -500),
    ("correction: commission on a test account", -8000, -500),
)


def _write_adjustments(ctx: _Ctx) -> None:
    """``adjustments.csv``, then ``adjustments-<date>.csv`` re-delivering one with a new amount."""
    rng = ctx.rng("adjustments")
    rows: list[tuple[int, list[str]]] = []
    for shape in PROGRAMS:
        partners = [p for p in ctx.partners if p.shape is shape]
        for _ in range(_scaled(shape.adjustments_per_year, ctx.scale, ctx.months)):
            ts = rng.randrange(ctx.start_ts, ctx.end_ts) // 60 * 60
            eligible = [p for p in partners if p.joined_ts <= ts] or partners
            partner = rng.choice(eligible)
            reason, lo, hi = rng.choice(ADJUSTMENT_REASONS)
            amount = rng.randrange(lo, hi, 100) or 100
            rows.append((ts, [shape.program_id, partner.partner_id, str(amount), iso(ts), reason]))
    rows.sort(key=lambda item: (item[0], item[1][0], item[1][1]))
    numbered = [[f"adj_{n:05d}", *row] for n, (_, row) in enumerate(rows, start=1)]
    folder = ctx.landing / "tracking" / "adjustments"
    bad = [
        _csv_line(
            [
                "adj_90001",
                numbered[0][1],
                numbered[0][2],
                "0",
                numbered[0][4],
                "correction: nothing",
            ]
        ),
        _csv_line(["adj_90002", numbered[0][1], numbered[0][2], "12.5", numbered[0][4], "bonus"]),
        _csv_line(
            ["adj_90003", "prog_eur", "pt_e99999", "5000", numbered[0][4], "bonus: unknown partner"]
        ),
    ]
    lines = _interleave(rng, [_csv_line(row) for row in numbered], bad)
    first, last = _delivery_dates(ctx)
    _write_lines(folder / f"adjustments-{first}.csv", TRACKING_HEADERS["adjustments"], lines)
    changed = list(rng.choice(numbered))
    changed[3] = str(int(changed[3]) + (2500 if int(changed[3]) > 0 else -1000))
    changed[5] += " (amended)"
    ts = ctx.end_ts - 20 * DAY + 9 * HOUR  # year-end bonuses
    extra = [rng.choice(ctx.partners) for _ in range(2)]
    late = [
        changed,
        *(
            [
                f"adj_{len(numbered) + i + 1:05d}",
                p.shape.program_id,
                p.partner_id,
                "7500",
                iso(ts),
                "bonus: year-end",
            ]
            for i, p in enumerate(extra)
        ),
    ]
    _write_lines(
        folder / f"adjustments-{last}.csv",
        TRACKING_HEADERS["adjustments"],
        [_csv_line(row) for row in late],
    )
    ctx.add("adjustments", len(numbered) + len(extra))
    ctx.add("malformed_rows", len(bad))
    ctx.add("files", 2)


# --- entry point --------------------------------------------------------------------------------


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
