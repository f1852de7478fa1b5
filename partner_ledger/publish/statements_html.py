"""One HTML statement per partner and batch, for the partner to read (issue 14).

Each statement shows the opening balance, every entry the close settles grouped by type (the
customer and paid event behind it; for a clawback, the refund or dispute it applies and the
payment it reverses), the payout, the closing balance, what is still on hold with its release
date, and why a balance was carried, in words. Everything comes from the warehouse
(fct_payout_statements, fct_statement_entries): no rule is recomputed here. Amounts are integer
cents written in currency units with exact decimals. Every value is escaped, so a partner or
customer name is always text, never markup: the page's fields by Jinja's autoescape, the rows of
its tables by DuckDB, which writes them for a whole batch at once (statement_lines; the same
escaping as markupsafe's, the same amounts as Amounts). The page is self-contained: no script,
no external style sheet, font or image.
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
from markupsafe import Markup

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


def _sql_text(value: str) -> str:
    """A constant as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _sql_label(column: str, labels: dict[str, str]) -> str:
    """SQL: the label of a column's value (the value itself when it has none)."""
    cases = " ".join(
        f"when {_sql_text(key)} then {_sql_text(label)}" for key, label in labels.items()
    )
    return f"case {column} {cases} else {column} end"


_ESCAPED = (("&", "&amp;"), (">", "&gt;"), ("<", "&lt;"), ("'", "&#39;"), ('"', "&#34;"))


def sql_escaped(expression: str) -> str:
    """SQL: a text as HTML text, escaped as markupsafe (Jinja's autoescape) escapes it. Only a
    text holding one of the five characters is rewritten: five replacements of every cell of a
    batch's 700,000 lines cost 0.3-0.5 s more at L (decision 0012, sessions 26 and 30)."""
    escaped = expression
    for char, entity in _ESCAPED:
        escaped = f"replace({escaped}, {_sql_text(char)}, {_sql_text(entity)})"
    special = _sql_text("[" + "".join(char for char, _ in _ESCAPED) + "]")
    return f"case when regexp_matches({expression}, {special}) then {escaped} else {expression} end"


def sql_money(column: str, digits: int) -> str:
    """SQL: integer minor units as Amounts(digits) writes them ("-1,234.50")."""
    unit = 10**digits
    whole = f"format('{{:,}}', abs({column}) // {unit})"
    fraction = (
        f" || '.' || lpad(cast(abs({column}) % {unit} as varchar), {digits}, '0')" if digits else ""
    )
    return f"case when {column} < 0 then '-' else '' end || {whole}{fraction}"


def _sql_concat_in_order(text: str, *keys: str) -> str:
    """SQL aggregate: the `text` of a group's rows concatenated in the order of `keys`
    (ascending, nulls last). The group's rows are collected as one list of structs (the keys,
    then the text) and the list sorted, instead of `string_agg(... order by ...)`, whose input
    DuckDB sorts group by group: at L, a batch of 702,971 lines in 19,467 groups took 2.7 s
    that way and 1.6 s this way, for the same text (decision 0030). Rows equal on every key
    come in the order of their text, where string_agg left it to chance."""
    fields = ", ".join(f"k{number} := {key}" for number, key in enumerate(keys))
    return (
        f"array_to_string(list_transform(list_sort(list(struct_pack({fields}, line := {text})), "
        "'ASC', 'NULLS LAST'), lambda row: row.line), '')"
    )


# Python's str.strip(): every character str.isspace() accepts, at either end
_SPACE = (
    r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}]+"
)


def _lines_sql(digits: int) -> str:
    """SQL (parameter: the batch id): every table of a batch's statements, as HTML rows.

    One row per partner and settled entry type (`section` = the type) and one per partner for
    what is held (`section` = 'held'): the rows in statement order (earned, then entry id; the
    held by release day first) and their total. What caused each entry is written in words here,
    as the statement shows it; every text cell is escaped, so a partner's or customer's name is
    always text. Built in DuckDB: a large batch has hundreds of thousands of lines (at M,
    372,210 in two batches: 2.2 s as Python tuples, decision 0030)."""
    refund_kind = "split_part(source_key, ':', 1)"
    after_colon = (
        "case when strpos(source_key, ':') > 0 "
        "then substr(source_key, strpos(source_key, ':') + 1) else '' end"
    )
    rate = (
        "case when rate_bps < 0 then '-' else '' end || cast(abs(rate_bps) // 100 as varchar) || "
        "case when abs(rate_bps) % 100 = 0 then '' "
        "else '.' || rtrim(lpad(cast(abs(rate_bps) % 100 as varchar), 2, '0'), '0') end"
    )
    refund = (
        f"regexp_replace({_sql_label(refund_kind, REFUND_LABELS)} || ' ' || {after_colon}, "
        f"{_sql_text(f'^{_SPACE}|{_SPACE}$')}, '', 'g')"
    )
    amount = sql_money("amount_cents", digits)
    # each table's rows in statement order: earned, then entry id; the held by release day first
    settled_rows = _sql_concat_in_order("'<tr>' || row_cells", "earned_at", "entry_id")
    held_rows = _sql_concat_in_order(
        f"'<tr><td>' || {sql_escaped('release_day')} || '</td>' || row_cells",
        "release_day",
        "earned_at",
        "entry_id",
    )
    return f"""
with entries as (
    select
        partner_id,
        line_kind,
        entry_type,
        amount_cents,
        earned_at,
        entry_id,
        coalesce(strftime(earned_at, '%Y-%m-%d'), '') as earned_day,
        coalesce(strftime(available_at, '%Y-%m-%d'), '') as release_day,
        coalesce(customer_key, '') as customer_key,
        coalesce(source_key, '') as source_key,
        case
            when paid_event_id is null then ''
            else {_sql_label("coalesce(paid_event_type, '')", EVENT_LABELS)} || ' ' || paid_event_id
        end as event,
        referred_partner_id,
        concat_ws(', ', 'month ' || month_number, {rate} || ' %') as detail
    from fct_statement_entries
    where batch_id = ?
),

causes as (
    select
        *,
        case
            when entry_type in ('clawback', 'referral_clawback')
                then {refund} || case when event != '' then ' of ' || event else '' end
                || case when amount_cents > 0 then ', given back: the refund did not go through' else '' end
            when entry_type = 'adjustment'
                then coalesce(nullif({after_colon}, ''), 'manual adjustment')
            when entry_type = 'referral_commission' and coalesce(referred_partner_id, '') != ''
                then event || ', referred partner ' || referred_partner_id
            when detail != '' then event || ' (' || detail || ')'
            else event
        end as cause
    from entries
),

cells as (
    select
        *,
        '<td>' || earned_day || '</td><td>' || {sql_escaped("customer_key")} || '</td><td>'
        || {sql_escaped("cause")} || '</td><td class="amount">' || {amount}
        || '</td></tr>' || chr(10) as row_cells
    from causes
)

select
    partner_id,
    entry_type as section,
    {settled_rows} as rows_html,
    sum(amount_cents) as total_cents
from cells
where line_kind = 'settled'
group by partner_id, entry_type
union all
select
    partner_id,
    'held' as section,
    {held_rows} as rows_html,
    sum(amount_cents) as total_cents
from cells
where line_kind = 'held'
group by partner_id
"""


def render_statement(statement: dict, lines: dict[str, tuple[str, int]]) -> bytes:
    """One partner's statement; `lines`: its tables' HTML rows and totals by section (an entry
    type, or 'held'), as statement_lines gives them."""
    money = Amounts(int(statement["minor_digits"]))
    sections = [
        {
            "title": title,
            "what": "Reference" if entry_type == "adjustment" else "For",
            "rows": Markup(lines[entry_type][0]),
            "total": money(lines[entry_type][1]),
        }
        for entry_type, title in SECTIONS
        if entry_type in lines
    ]
    held_rows = Markup(lines["held"][0]) if "held" in lines else Markup("")
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


def statement_lines(
    con: duckdb.DuckDBPyConnection, batch_id: str, digits: int
) -> dict[str, dict[str, tuple[str, int]]]:
    """The tables of a batch's statements by partner: {section: (HTML rows, total cents)}."""
    lines: dict[str, dict[str, tuple[str, int]]] = defaultdict(dict)
    for partner_id, section, rows_html, total_cents in con.execute(
        _lines_sql(digits), [batch_id]
    ).fetchall():
        lines[partner_id][section] = (rows_html, int(total_cents))
    return lines


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
    digits = {int(statement["minor_digits"]) for statement in statements}
    if len(digits) != 1:
        raise ValueError(
            f"batch {batch_id} has statements in minor units of {sorted(digits)} digits"
        )
    lines = statement_lines(con, batch_id, digits.pop())
    files: dict[str, bytes] = {}
    for statement in statements:
        name = statement_file_name(statement["partner_id"])
        files[name] = render_statement(statement, lines.get(statement["partner_id"], {}))
    return files
