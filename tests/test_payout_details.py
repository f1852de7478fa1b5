"""The payout account checks of SPEC §2.9 have one Python home (partner_ledger.rules.payout_details)
and one SQL home (macros/payout_details.sql, used by ledger_statements to block a payout).
The SQL macros are compiled by dbt and run by DuckDB on the same accounts as the Python checks:
both must give the same verdict on every account, and the verdict SPEC §2.9 gives on the named
ones."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from partner_ledger.io.warehouse import connect
from partner_ledger.rules.payout_details import (
    iban_check_digits,
    is_valid_iban,
    is_valid_payout,
    is_valid_paypal_account,
)
from partner_ledger.settle.dbt import invoke

VALID_IBANS = [
    "DE89370400440532013000",
    "DE89 3704 0044 0532 0130 00",  # grouped by four, as printed
    "de89 3704 0044 0532 0130 00",  # lower case
    "fr76 3000 6000 0112 3456 7890 189",
    "NL44RABO0123456789",  # letters in the BBAN
    "GB82WEST12345698765432",
    "NO9386011117947",  # the shortest: 11 characters after the check digits
    "LC55HEMM000100010012001200023015",
]
INVALID_IBANS = [
    "DE89370400440532013001",  # bad checksum: one digit changed
    "FR7630006000011234567890198",  # bad checksum: two digits swapped
    "NO938601111794",  # wrong length: 10 after the check digits
    "FR76" + "1" * 31,  # wrong length: 31 after the check digits
    "DE8937",
    "",
    " ",
    "7630006000011234567890189FR",
    "FRXX30006000011234567890189",
    "FR76-3000-6000-0112-3456-7890-189",
    "FR76\t30006000011234567890189",  # a tab is not a space
    "FR7630006000011234567890189ß",
    "ÄÖ12",
]
VALID_PAYPAL = [
    "mira@example.com",
    "Mira.Costa+affiliates@mail.example",
    "a@b.c",
    "o'brien@example.org",
    "a\vb@example.com",  # a vertical tab is not whitespace to the SQL regex (RE2's \s)
]
INVALID_PAYPAL = [
    "",
    "mira",
    "paypal.me/mira",
    "mira at example.com",
    "mira@localhost",  # no dot in the domain
    "@example.com",  # no local part
    "mira@@example.com",
    "mira@example.com@example.org",
    "mira @example.com",
    " mira@example.com",
    "mira@example.com\n",
    "mira@exa\tmple.com",
    "mira@example.com\r",
    "mira\f@example.com",
]


def _random_ibans() -> list[str]:
    """Valid IBANs of every BBAN length, each also lower case, grouped, with one character
    changed, with a trailing dash and one character short."""
    rng = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    accounts: list[str] = []
    for length in range(11, 31):
        bban = "".join(rng.choice(alphabet) for _ in range(length))
        country = rng.choice(["DE", "FR", "NL", "GB", "MT", "LC"])
        iban = country + iban_check_digits(country, bban) + bban
        position = rng.randrange(len(iban))
        broken = (
            iban[:position] + rng.choice(alphabet.replace(iban[position], "")) + iban[position:][1:]
        )
        accounts += [iban, iban.lower(), " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))]
        accounts += [broken, iban + "-", iban[:-1]]
    return accounts


def _sql_verdicts(tmp_path: Path, accounts: list[str]) -> dict[str, tuple[bool, bool]]:
    """Each account's (is_valid_iban, is_valid_paypal_account) by the SQL macros: compiled by dbt
    (the project's own profile, on DuckDB) and run on a table of the accounts, inserted as
    parameters (so that no character is lost on the way through the SQL text)."""
    warehouse = tmp_path / "details" / "partner_ledger.duckdb"
    connect(warehouse).close()
    result = invoke(
        [
            "compile",
            "--inline",
            "select account, {{ is_valid_iban('account') }} as iban, "
            "{{ is_valid_paypal_account('account') }} as paypal "
            "from accounts",
            "--quiet",
        ],
        {"PARTNER_LEDGER_WAREHOUSE": str(warehouse), "DBT_TARGET_PATH": str(tmp_path / "target")},
    )
    assert result.success, result.exception
    sql = result.result.results[0].node.compiled_code
    assert "list_reduce" not in sql and "regexp_full_match" in sql  # the portable form
    con = duckdb.connect()
    con.execute("create table accounts (account varchar)")
    con.executemany("insert into accounts values (?)", [[account] for account in accounts])
    rows = con.execute(sql).fetchall()
    return {account: (iban, paypal) for account, iban, paypal in rows}


@pytest.fixture(scope="module")
def accounts() -> list[str]:
    return VALID_IBANS + INVALID_IBANS + VALID_PAYPAL + INVALID_PAYPAL + _random_ibans()


def test_sql_and_python_checks_agree(accounts: list[str], tmp_path_factory) -> None:
    sql = _sql_verdicts(tmp_path_factory.mktemp("payout_details"), accounts)
    python = {
        account: (is_valid_iban(account), is_valid_paypal_account(account)) for account in accounts
    }
    disagreements = {
        account: {"sql": sql[account], "python": python[account]}
        for account in accounts
        if sql[account] != python[account]
    }
    assert not disagreements
    assert 40 <= sum(iban for iban, _ in python.values()) < len(accounts)


def test_named_accounts_get_the_spec_verdict() -> None:
    assert all(is_valid_iban(account) for account in VALID_IBANS)
    assert not any(is_valid_iban(account) for account in INVALID_IBANS)
    assert all(is_valid_paypal_account(account) for account in VALID_PAYPAL)
    assert not any(is_valid_paypal_account(account) for account in INVALID_PAYPAL)


def test_payout_details_by_method() -> None:
    """A partner is paid only with details of their method: an IBAN for sepa, an email for
    paypal; wise and manual are not checked by syntax; missing details never pass."""
    assert is_valid_payout("sepa", "DE89 3704 0044 0532 0130 00")
    assert not is_valid_payout("sepa", "mira@example.com")
    assert is_valid_payout("paypal", "mira@example.com")
    assert not is_valid_payout("paypal", "DE89370400440532013000")
    assert is_valid_payout("wise", "anything")
    assert not is_valid_payout("sepa", "") and not is_valid_payout("", "mira@example.com")
    assert not is_valid_payout(None, None)
