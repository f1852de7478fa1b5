"""One HTML statement per partner and batch, for the partner to read (issue 14).

Each statement shows the opening balance, every entry the close settles grouped by type (the
customer and paid event behind it; for a clawback, the refund or dispute it applies and the
payment it reverses), the payout, the closing balance, what is still on hold with its release
date, and why a balance was carried, in words. Everything comes from the warehouse
(fct_payout_statements, fct_statement_entries): no rule is recomputed here. Amounts are integer
cents written in currency units with exact decimals. Every value is escaped (Jinja autoescape),
so a partner or customer name is always text, never markup. The page is self-contained: no
script, no external style sheet, font or image.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import duckdb
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup, escape

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}")
CARRIED_REASONS = {
    "terminated": "Not paid: your partnership has ended, so the balance is not paid out.",
    "suspended": "Not paid this month: your partnership is suspended. The balance is kept "
    "and paid at the first close after it is active again.",
    "missing_payout_details": "Not paid this month: we have no payout method or account for "
    "you. Add your payout details and the balance is paid at the next close.",
    "invalid_payout_details": "Not paid this month: your payout account is not valid for your "
    "payout method (for example an IBAN or a PayPal email address that cannot be used). Correct "
    "it and the balance is paid at the next close.",
    "negative_balance": "Nothing to pay: refunds took back more than you earned, so your "
    "balance is negative. It is carried forward and offset by your next commissions.",
    "below_minimum": "Not paid yet: your balance is below the program's minimum payout. It is "
    "carried forward and paid once it reaches the minimum.",
}
SECTIONS = (
    ("commission", "Commissions"),
    ("referral_commission", "Referral commissions"),
    ("clawback", "Clawbacks"),
    ("referral_clawback", "Referral clawbacks"),
    ("adjustment", "Adjustments"),
)
PAYOUT_METHODS = {
    "sepa": "SEPA transfer",
    "paypal": "PayPal",
    "wise": "Wise",
    "manual": "manual payment",
}
EVENT_LABELS = {"invoice": "invoice", "charge": "payment", "sale": "sale"}
REFUND_LABELS = {
    "refund": "refund",
    "dispute": "lost dispute",
    "sale_refund": "refund",
}
# the columns of fct_statement_entries a statement shows, fetched as tuples (a large batch has
# hundreds of thousands of lines); days as text, as the statement prints them (UTC)
ENTRY_COLUMNS = (
    "partner_id",
    "line_kind",
    "entry_type",
    "amount_cents",
    "strftime(earned_at, '%Y-%m-%d')",
    "strftime(available_at, '%Y-%m-%d')",
    "customer_key",
    "source_key",
    "paid_event_type",
    "paid_event_id",
    "referred_partner_id",
    "month_number",
    "rate_bps",
)
(
    PARTNER_ID,
    LINE_KIND,
    ENTRY_TYPE,
    AMOUNT,
    EARNED_DAY,
    AVAILABLE_DAY,
    CUSTOMER_KEY,
    SOURCE_KEY,
    PAID_EVENT_TYPE,
    PAID_EVENT_ID,
    REFERRED_PARTNER_ID,
    MONTH_NUMBER,
    RATE_BPS,
) = range(len(ENTRY_COLUMNS))

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Statement {{ s.period }} – {{ s.partner_label }}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d2228;
  max-width: 52rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #d8dde3; padding-bottom: .2rem; }
.meta { color: #5b6570; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin-top: .5rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eceff2; vertical-align: top; }
th { font-weight: 600; color: #5b6570; font-size: .85rem; }
td.amount, th.amount { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 700; border-top: 2px solid #1d2228; }
.note { background: #fff6e0; border-left: 4px solid #e0a800; padding: .6rem .8rem; margin-top: 1rem; }
.subtotal td { font-weight: 600; }
footer { color: #5b6570; font-size: .85rem; margin-top: 2.5rem; }
</style>
</head>
<body>
<h1>Partner statement – {{ s.period }}</h1>
<p class="meta">{{ s.partner_label }} · partner {{ s.partner_id }} · program {{ s.program_id }}<br>
Period {{ s.period_from }} to {{ s.period_to }} · closed on {{ s.closed_on }} · batch {{ s.batch_id }} ·
amounts in {{ s.currency }}</p>

<h2>Summary</h2>
<table>
<tr><th>Item</th><th class="amount">{{ s.currency }}</th></tr>
<tr><td>Opening balance (carried from the previous statement)</td><td class="amount">{{ s.opening }}</td></tr>
{% for label, amount in s.activity %}<tr><td>{{ label }}</td><td class="amount">{{ amount }}</td></tr>
{% endfor %}<tr><td>Payout{% if s.payout_method %} by {{ s.payout_method }}{% endif %}</td><td class="amount">{{ s.payout }}</td></tr>
<tr class="total"><td>Closing balance (carried forward)</td><td class="amount">{{ s.closing }}</td></tr>
<tr><td>On hold, not yet payable</td><td class="amount">{{ s.held }}</td></tr>
</table>
{% if s.reason %}<p class="note">{{ s.reason }}</p>{% endif %}
{% for section in s.sections %}
<h2>{{ section.title }}</h2>
<table>
<tr><th>Date</th><th>Customer</th><th>{{ section.what }}</th><th class="amount">{{ s.currency }}</th></tr>
{{ section.rows }}<tr class="subtotal"><td colspan="3">Total {{ section.title | lower }}</td><td class="amount">{{ section.total }}</td></tr>
</table>
{% endfor %}
{% if s.held_rows %}
<h2>On hold</h2>
<p>Commissions are payable after the program's holding period. These amounts are on hold and
become payable on the date shown; they appear on the first statement after that date.</p>
<table>
<tr><th>Payable from</th><th>Earned</th><th>Customer</th><th>For</th><th class="amount">{{ s.currency }}</th></tr>
{{ s.held_rows }}<tr class="subtotal"><td colspan="4">Total on hold</td><td class="amount">{{ s.held }}</td></tr>
</table>
{% endif %}
<footer>Opening balance + commissions, referral commissions, clawbacks and adjustments − payout
= closing balance. Dates are UTC.</footer>
</body>
</html>
"""

_ENVIRONMENT = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
_TEMPLATE = _ENVIRONMENT.from_string(TEMPLATE)


@dataclass(frozen=True)
class Amounts:
    digits: int

    def __call__(self, cents: int) -> str:
        """Integer minor units as currency units with grouping, exact ("-1,234.50")."""
        value = Decimal(int(cents)).scaleb(-self.digits)
        return format(value, f",.{self.digits}f")


def statement_file_name(partner_id: str) -> str:
    """A file name for the partner's statement that is safe whatever the partner id holds."""
    if SAFE_NAME.fullmatch(partner_id) and ".." not in partner_id:
        return f"statement-{partner_id}.html"
    return f"statement-id-{hashlib.sha256(partner_id.encode()).hexdigest()[:16]}.html"


def _event(paid_event_type: str | None, paid_event_id: str | None) -> str:
    if paid_event_id is None:
        return ""
    return f"{EVENT_LABELS.get(paid_event_type or '', paid_event_type or '')} {paid_event_id}"


def _cause(entry: tuple) -> str:
    """What caused an entry, in words: the paid event, or the refund and what it reverses."""
    entry_type = entry[ENTRY_TYPE]
    event = _event(entry[PAID_EVENT_TYPE], entry[PAID_EVENT_ID])
    if entry_type in ("clawback", "referral_clawback"):
        kind, _, refund_id = (entry[SOURCE_KEY] or "").partition(":")
        refund = f"{REFUND_LABELS.get(kind, kind)} {refund_id}".strip()
        cause = f"{refund} of {event}" if event else refund
        if entry[AMOUNT] > 0:
            return f"{cause}, given back: the refund did not go through"
        return cause
    if entry_type == "adjustment":
        return (entry[SOURCE_KEY] or "").partition(":")[2] or "manual adjustment"
    if entry_type == "referral_commission" and entry[REFERRED_PARTNER_ID]:
        return f"{event}, referred partner {entry[REFERRED_PARTNER_ID]}"
    detail = []
    if entry[MONTH_NUMBER] is not None:
        detail.append(f"month {entry[MONTH_NUMBER]}")
    if entry[RATE_BPS] is not None:
        detail.append(f"{Decimal(entry[RATE_BPS]).scaleb(-2).normalize():f} %")
    return f"{event} ({', '.join(detail)})" if detail else event


def _text(value: str) -> str:
    """A value as HTML text: the escaping Jinja's autoescape applies (markupsafe), done once per
    cell here because a statement of a large partner has thousands of rows."""
    return str(escape(value))


def _rows(entries: list[tuple], money: Amounts, release: str | None = None) -> Markup:
    """The table rows of entries, each cell escaped (`release`: the held table's first column)."""
    first = f"<td>{_text(release)}</td>" if release is not None else ""
    return Markup(
        "".join(
            f"<tr>{first}<td>{entry[EARNED_DAY] or ''}</td><td>{_text(entry[CUSTOMER_KEY] or '')}</td>"
            f"<td>{_text(_cause(entry))}</td>"
            f'<td class="amount">{money(entry[AMOUNT])}</td></tr>\n'
            for entry in entries
        )
    )


def render_statement(statement: dict, entries: list[tuple]) -> bytes:
    """One partner's statement; `entries` are rows of ENTRY_COLUMNS in the statement's order."""
    money = Amounts(int(statement["minor_digits"]))
    settled = [e for e in entries if e[LINE_KIND] == "settled"]
    held = [e for e in entries if e[LINE_KIND] == "held"]
    sections = []
    for entry_type, title in SECTIONS:
        rows = [e for e in settled if e[ENTRY_TYPE] == entry_type]
        if not rows:
            continue
        sections.append(
            {
                "title": title,
                "what": "Reference" if entry_type == "adjustment" else "For",
                "rows": _rows(rows, money),
                "total": money(sum(e[AMOUNT] for e in rows)),
            }
        )
    by_release: dict[str, list[tuple]] = defaultdict(list)
    for e in held:
        by_release[e[AVAILABLE_DAY] or ""].append(e)
    held_rows = Markup("").join(
        _rows(rows, money, release) for release, rows in sorted(by_release.items())
    )
    period_start: datetime = statement["period_start"]
    period_end: datetime = statement["period_end"]
    context = {
        "batch_id": statement["batch_id"],
        "program_id": statement["program_id"],
        "partner_id": statement["partner_id"],
        "partner_label": statement["partner_name"] or statement["partner_id"],
        "period": statement["period"],
        "period_from": period_start.date().isoformat(),
        "period_to": (period_end - timedelta(days=1)).date().isoformat(),
        "closed_on": statement["closed_as_of"].isoformat(),
        "currency": statement["currency"],
        "opening": money(statement["opening_balance_cents"]),
        "activity": [
            ("Commissions", money(statement["commission_cents"])),
            ("Referral commissions", money(statement["referral_commission_cents"])),
            ("Clawbacks", money(statement["clawback_cents"])),
            ("Adjustments", money(statement["adjustment_cents"])),
        ],
        "payout": money(-statement["payout_cents"]),
        "payout_method": PAYOUT_METHODS.get(statement["payout_method"], statement["payout_method"])
        if statement["payout_cents"]
        else None,
        "closing": money(statement["closing_balance_cents"]),
        "held": money(statement["held_cents"]),
        "reason": CARRIED_REASONS.get(statement["carried_reason"] or "", ""),
        "sections": sections,
        "held_rows": held_rows,
    }
    return _TEMPLATE.render(s=context).encode("utf-8")


def _records(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def statement_entries(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[str, list[tuple]]:
    """The lines of a batch's statements by partner: rows of ENTRY_COLUMNS in statement order."""
    entries: dict[str, list[tuple]] = defaultdict(list)
    for entry in con.execute(
        f"select {', '.join(ENTRY_COLUMNS)} from fct_statement_entries where batch_id = ? "
        "order by partner_id, line_kind, earned_at, entry_id",
        [batch_id],
    ).fetchall():
        entries[entry[PARTNER_ID]].append(entry)
    return entries


def statement_files(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[str, bytes]:
    """Every partner statement of a batch, by file name."""
    statements = _records(
        con.execute(
            "select * from fct_payout_statements where batch_id = ? order by partner_id",
            [batch_id],
        )
    )
    if not statements:
        return {}
    entries = statement_entries(con, batch_id)
    files: dict[str, bytes] = {}
    for statement in statements:
        name = statement_file_name(statement["partner_id"])
        files[name] = render_statement(statement, entries.get(statement["partner_id"], []))
    return files
