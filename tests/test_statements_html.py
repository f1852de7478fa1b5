"""Partner statements in HTML (issue 14), from the worked example run by real nightly flows: one
per statements.csv row, private and in the manifest, amounts in currency units from integer cents,
clawbacks naming the refund and the payment they reverse, held amounts with their release date,
the carried reason in words; and every value escaped, whatever a partner or customer is called."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from partner_ledger.publish.statements_html import (
    Amounts,
    render_statement,
    sql_money,
    statement_file_name,
    statement_files,
    statement_lines,
)

PROGRAM = "prog_lumen"
PERIODS = ("2025-03", "2025-04", "2025-05")


class _Text(HTMLParser):
    """The page as a reader sees it: its text, and the tags the browser would build."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _read(content: str) -> _Text:
    parser = _Text()
    parser.feed(content)
    return parser


@pytest.fixture(scope="module")
def built(example_three_nights: Path):
    con = duckdb.connect(str(example_three_nights / "warehouse" / "example.duckdb"), read_only=True)
    yield example_three_nights / "out" / "payouts" / PROGRAM, con
    con.close()


@pytest.mark.parametrize("period", PERIODS)
def test_one_private_listed_statement_per_row(built, period: str) -> None:
    payouts, _ = built
    folder = payouts / period
    with (folder / "statements.csv").open(newline="") as handle:
        partners = [row["partner_id"] for row in csv.DictReader(handle)]
    pages = sorted(path.name for path in folder.glob("statement-*.html"))
    assert pages == sorted(f"statement-{partner}.html" for partner in partners)
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in pages:
        path = folder / name
        assert manifest["files"][name] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert path.stat().st_mode & 0o777 == 0o600
        page = path.read_text(encoding="utf-8")
        assert "<script" not in page and "http" not in page  # self-contained, works offline


def test_statement_reads_as_the_ledger_says(built) -> None:
    payouts, _ = built
    mira = _read((payouts / "2025-04" / "statement-pt_mira.html").read_text())
    text = " ".join(" ".join(mira.text).split())
    assert "Mira Costa" in text and "Payout by SEPA transfer -126.40" in text
    assert "Commissions 125.00" in text and "Closing balance (carried forward) 0.00" in text
    assert "cust_emil sale so_5003 (month 1, 35 %) 70.00" in text
    olga = " ".join(
        " ".join(_read((payouts / "2025-04" / "statement-pt_olga.html").read_text()).text).split()
    )
    assert "refund re_dario_setup of payment ch_dario_setup -105.00" in olga
    assert "Closing balance (carried forward) -85.00" in olga
    assert "refunds took back more than you earned" in olga
    # May's close holds Mira's late-May commissions: each with the date it becomes payable
    may = " ".join(
        " ".join(_read((payouts / "2025-05" / "statement-pt_mira.html").read_text()).text).split()
    )
    assert "On hold" in may and "Payable from" in may


def test_held_lines_sum_to_held_and_amounts_are_exact(built) -> None:
    _, con = built
    mismatched = con.execute(
        """
        select statements.batch_id, statements.partner_id
        from fct_payout_statements as statements
        left join (
            select batch_id, partner_id, sum(amount_cents) as cents
            from fct_statement_entries where line_kind = 'held' group by all
        ) as held
            on statements.batch_id = held.batch_id and statements.partner_id = held.partner_id
        where statements.held_cents != coalesce(held.cents, 0)
        """
    ).fetchall()
    assert mismatched == []
    assert Amounts(2)(123456789012345) == "1,234,567,890,123.45"
    assert Amounts(2)(-5) == "-0.05" and Amounts(0)(1500) == "1,500"
    assert Amounts(3)(1001) == "1.001"


def test_sql_amounts_are_written_as_amounts_writes_them() -> None:
    """The statement's table rows are written by DuckDB (sql_money), its summary by Amounts."""
    con = duckdb.connect()
    cents = [0, 5, -5, 99, 100, -100, 1001, 123456, -123456, 100000000, 123456789012345]
    for digits in (0, 2, 3):
        written = con.execute(
            f"select {sql_money('cents', digits)} from unnest(?) as amounts(cents)", [cents]
        ).fetchall()
        assert [text for (text,) in written] == [Amounts(digits)(amount) for amount in cents]
    con.close()


def test_sql_escapes_text_as_jinja_escapes_it() -> None:
    """The table rows' text cells are escaped by DuckDB (sql_escaped), the rest of the page by
    Jinja's autoescape (markupsafe): the same text for each of the five characters alone, in
    company, twice, at either end, beside other scripts, and for text holding none of them."""
    from markupsafe import escape

    from partner_ledger.publish.statements_html import sql_escaped

    texts = ["", "plain", "Zoë 東京 ☃", "&amp;", "a&b", "1 > 0", "<b>", "it's", 'say "hi"']
    texts += ["&", ">", "<", "'", '"', "&&", "<<>>", "''", '""', "x&", "&x", "\n<\t>", "\\&"]
    texts += ['<script>alert("x")</script>', "'\"&<>", "&lt;already&gt;"]
    con = duckdb.connect()
    written = con.execute(
        f"select {sql_escaped('text')} from unnest(?) with ordinality as texts(text, n) order by n",
        [texts],
    ).fetchall()
    assert [text for (text,) in written] == [str(escape(text)) for text in texts]
    assert con.execute(f"select {sql_escaped('cast(null as varchar)')}").fetchone() == (None,)
    con.close()


def test_names_render_as_text_never_markup(built, tmp_path: Path) -> None:
    """Hostile names, ids and references, written into the warehouse, reach the page as text."""
    payouts, con = built
    warehouse = tmp_path / "example.duckdb"  # the views name their catalog after the file
    shutil.copyfile(payouts.parents[2] / "warehouse" / "example.duckdb", warehouse)
    hostile_customer = "</td><img src=x onerror=alert(1)>"
    hostile_event = "in_<u>1</u>&amp;"
    hostile_refund = "refund:re_<b>'x'</b>"
    copy = duckdb.connect(str(warehouse))
    copy.execute(
        "update fct_statement_entries set customer_key = ?, paid_event_id = ?, "
        "source_key = case when entry_type = 'clawback' then ? else source_key end "
        "where batch_id = 'prog_lumen-2025-04' and partner_id = 'pt_olga'",
        [hostile_customer, hostile_event, hostile_refund],
    )
    cursor = copy.execute(
        "select * from fct_payout_statements where batch_id = 'prog_lumen-2025-04' "
        "and partner_id = 'pt_olga'"
    )
    columns = [column[0] for column in cursor.description]
    statement = dict(zip(columns, cursor.fetchone(), strict=True))
    lines = statement_lines(copy, "prog_lumen-2025-04", 2)["pt_olga"]
    copy.close()
    assert "clawback" in lines
    hostile_name = '<script>alert("x")</script></td></tr></table><b>'
    statement = {**statement, "partner_name": hostile_name, "partner_id": "pt_<i>olga"}
    page = render_statement(statement, lines).decode("utf-8")
    parsed = _read(page)
    assert {"script", "img", "b", "i", "u"}.isdisjoint(parsed.tags)
    text = "".join(parsed.text)
    assert hostile_name in text and hostile_customer in text and "pt_<i>olga" in text
    assert hostile_event in text  # "&amp;" stays text: escaped once, not twice
    assert "refund re_<b>'x'</b> of payment in_<u>1</u>&amp;" in text
    # the published page of the untouched warehouse is the page rendered from it again
    published = (payouts / "2025-04" / "statement-pt_olga.html").read_bytes()
    assert statement_files(con, "prog_lumen-2025-04")["statement-pt_olga.html"] == published


def test_rows_come_in_statement_order_whatever_order_they_are_stored_in(
    built, tmp_path: Path
) -> None:
    """Each table's rows by the time earned, then the entry id; what is held by release day
    first. The stored lines are first put in the opposite order, so an aggregate that kept the
    order it read them in fails here."""
    payouts, _ = built
    warehouse = tmp_path / "example.duckdb"
    shutil.copyfile(payouts.parents[2] / "warehouse" / "example.duckdb", warehouse)
    copy = duckdb.connect(str(warehouse))
    copy.execute(
        "create or replace table fct_statement_entries as select * from fct_statement_entries "
        "order by available_at desc, earned_at desc, entry_id desc"
    )
    several = 0
    for (batch_id,) in copy.execute(
        "select distinct batch_id from fct_statement_entries"
    ).fetchall():
        expected: dict[tuple[str, str], list] = defaultdict(list)
        for partner, kind, entry_type, earned_at, entry_id, available_at, cents in copy.execute(
            "select partner_id, line_kind, entry_type, earned_at, entry_id, available_at, "
            "amount_cents from fct_statement_entries where batch_id = ?",
            [batch_id],
        ).fetchall():
            held = kind == "held"
            release_day = available_at.date().isoformat() if held else ""
            expected[(partner, "held" if held else entry_type)].append(
                ((release_day, earned_at, entry_id), Amounts(2)(cents))
            )
        lines = statement_lines(copy, batch_id, 2)
        for (partner, section), rows in expected.items():
            shown = re.findall(r'<td class="amount">([^<]*)</td>', lines[partner][section][0])
            assert shown == [amount for _, amount in sorted(rows)], (batch_id, partner, section)
            several += len({amount for _, amount in rows}) > 1
    copy.close()
    assert several >= 2  # tables whose order shows: rows of different amounts (the example has 2)


def test_file_names_are_safe_for_any_partner_id() -> None:
    assert statement_file_name("pt_mira") == "statement-pt_mira.html"
    for hostile in ("../../etc/passwd", "a/b", ".hidden", "x" * 200, "名前", ""):
        name = statement_file_name(hostile)
        assert name.startswith("statement-id-") and "/" not in name and name.endswith(".html")
