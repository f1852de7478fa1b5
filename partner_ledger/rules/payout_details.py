"""The payout account checks of SPEC §2.9, by syntax only (no national, bank or DNS checks).

The one Python home of these checks: the rules validation uses them for a program's debtor IBAN,
the demo generator to shape partners with valid and invalid details. The settlement itself
applies their SQL twin, ``macros/payout_details.sql`` (``is_valid_iban``,
``is_valid_paypal_account``); ``tests/test_payout_details.py`` runs both on the same accounts and
asserts they agree.
"""

from __future__ import annotations

import re

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]*")
# an email by syntax alone: exactly one @, a non-empty local part, a domain holding a dot, no
# whitespace; whitespace is the SQL regex's \s (RE2: tab, newline, form feed, carriage return,
# space), so both sides give one verdict on every text
_PAYPAL_ACCOUNT = re.compile(r"[^@\t\n\f\r ]+@[^@\t\n\f\r ]*\.[^@\t\n\f\r ]*")


def iban_problem(value: str) -> str | None:
    """Why ``value`` is not an IBAN by SPEC §2.9, or None when it is one."""
    compact = value.replace(" ", "")
    if not compact.isascii() or not compact.isalnum():
        return "contains characters other than letters, digits and spaces"
    compact = compact.upper()
    if not _IBAN.fullmatch(compact):
        return "does not start with a two-letter country code and two check digits"
    bban_length = len(compact) - 4
    if not 11 <= bban_length <= 30:
        return f"has {bban_length} letters or digits after the check digits; expected 11 to 30"
    rearranged = compact[4:] + compact[:4]
    as_number = "".join(str(int(char, 36)) for char in rearranged)
    if int(as_number) % 97 != 1:
        return "fails the ISO 13616 mod-97 check (a mistyped or swapped character?)"
    return None


def is_valid_iban(value: str) -> bool:
    """An IBAN by SPEC §2.9: spaces ignored, any letter case, two letters, two digits, 11 to 30
    letters or digits, ISO 13616 mod-97 = 1; no country-, bank- or national-specific check."""
    return iban_problem(value) is None


def iban_check_digits(country: str, bban: str) -> str:
    """The two ISO 13616 check digits of ``country`` + ``bban`` (to write a valid IBAN)."""
    digits = "".join(str(int(ch, 36)) for ch in (bban + country + "00").upper())
    return f"{98 - int(digits) % 97:02d}"


def is_valid_paypal_account(account: str) -> bool:
    """A PayPal account by SPEC §2.9: an email by syntax alone (exactly one @, a non-empty local
    part, a domain holding a dot, no whitespace)."""
    return _PAYPAL_ACCOUNT.fullmatch(account) is not None


def is_valid_payout(method: str | None, account: str | None) -> bool:
    """Whether a partner's payout details let them be paid (SPEC §2.9): both given, an IBAN for
    ``sepa``, an email for ``paypal``; other methods are not checked by syntax."""
    if not method or not account:
        return False
    if method == "sepa":
        return is_valid_iban(account)
    if method == "paypal":
        return is_valid_paypal_account(account)
    return True
