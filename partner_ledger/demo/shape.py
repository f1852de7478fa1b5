"""What the demo looks like: its two programs' shapes, names, IBAN layouts and the counts it reports.

Data-shape knobs only; the money rules live in the rules folder (seeds/)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from partner_ledger.config import DEFAULTS
from partner_ledger.io.warehouse import STRIPE_OBJECTS, TRACKING_COLUMNS

TRACKING_HEADERS: dict[str, tuple[str, ...]] = {
    table: tuple(columns) for table, columns in TRACKING_COLUMNS.items()
}
STRIPE_FILES: tuple[str, ...] = tuple(STRIPE_OBJECTS)

# --- shape of the demo (data-shape knobs, not money rules: those live in seeds/) ------------------


def _rules_rows(name: str, rules: Path = DEFAULTS["rules"]) -> list[dict[str, str]]:
    """A file of the default rules folder the demo is settled with (validated when it loads)."""
    with (rules / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# each program's currency and attribution windows, as the rules say: the demo places most
# converting clicks and leads inside the windows, so it reads them rather than restating them
CURRENCIES = {row["program_id"]: row["currency"] for row in _rules_rows("programs.csv")}
WINDOW_DAYS = {
    (row["program_id"], row["source"]): int(row["window_days"])
    for row in _rules_rows("attribution_sources.csv")
}

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
    click_window_days: int  # the rules' window: most converting clicks are placed inside it
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
        currency=CURRENCIES["prog_eur"],
        short="e",
        domain="nordlicht-analytics.example",
        key_prefix="cust_",
        partners=150,
        signups_per_year=1400,
        clicks_per_day=1100,
        leads_per_year=900,
        adjustments_per_year=14,
        click_window_days=WINDOW_DAYS["prog_eur", "click"],
        lead_window_days=WINDOW_DAYS["prog_eur", "lead_form"],
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
        currency=CURRENCIES["prog_usd"],
        short="u",
        domain="cobalt-crm.example",
        key_prefix="acct_",
        partners=150,
        signups_per_year=1300,
        clicks_per_day=950,
        leads_per_year=800,
        adjustments_per_year=10,
        click_window_days=WINDOW_DAYS["prog_usd", "click"],
        lead_window_days=WINDOW_DAYS["prog_usd", "lead_form"],
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
