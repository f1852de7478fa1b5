"""The one guard against spreadsheet formulas in the CSV files finance opens (decision 0016).

payouts.csv, statements.csv, paypal_payouts.csv and wise_batch.csv write every cell through
:func:`csv_cell`; Parquet and SEPA keep the values as delivered (programs read them).
"""

from __future__ import annotations

import re

# a text cell a spreadsheet would read as a formula (OWASP's list): written after an apostrophe
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ...unless it is a plain decimal number, which a spreadsheet reads as the same number
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def csv_cell(value: object) -> object:
    """A value as a CSV cell: text that a spreadsheet would take for a formula gets a leading
    apostrophe (shown as text, not evaluated); numbers and plain decimal strings stay as they
    are, None is an empty cell (docs/decisions/0016-formula-neutralisation.md)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        if not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
    return value
