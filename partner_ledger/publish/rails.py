"""The batch files finance uploads to pay PayPal and Wise lines, beside payouts.csv.

Each provider's published upload layout (docs/decisions/0021-payout-rails.md):

- ``paypal_payouts.csv``: a PayPal Payouts Web payment file. No header row; one row per payment:
  recipient identifier (the PayPal email), amount, currency (one per file), customer ID (our
  reference, ``<batch_id>-<partner_id>``), note, recipient wallet (``PAYPAL``).
- ``wise_batch.csv``: a Wise batch payment "send by email" file. A header row
  ``name,recipientEmail,paymentReference,receiverType,amountCurrency,amount,sourceCurrency,
  targetCurrency``; ``amountCurrency`` is ``target`` (the partner receives the exact amount, the
  fee is ours) and both currencies are the program's.

A file is written only when the batch has lines of its method. Amounts are the ledger's integer
cents written with the currency's minor digits (the ``amount`` of payouts.csv), never floats;
every cell goes through :func:`partner_ledger.publish.formula.csv_cell`, the one formula guard
of the CSV files (decision 0016), so a spreadsheet never runs a partner's name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from partner_ledger.publish.formula import csv_cell

PAYPAL_FILE = "paypal_payouts.csv"
WISE_FILE = "wise_batch.csv"
PAYPAL_WALLET = "PAYPAL"
WISE_HEADER = [
    "name",
    "recipientEmail",
    "paymentReference",
    "receiverType",
    "amountCurrency",
    "amount",
    "sourceCurrency",
    "targetCurrency",
]
# Wise needs PERSON or BUSINESS and the partners file does not say which: PERSON, the common case
# of an affiliate (decision 0021); finance can change a row before uploading.
WISE_RECEIVER_TYPE = "PERSON"
WISE_AMOUNT_CURRENCY = "target"
# Wise limits a payment reference to a short text; ours names the batch.
WISE_REFERENCE_LENGTH = 35


def _csv(rows: Sequence[Sequence[str]], header: Sequence[str] | None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows([[csv_cell(cell) for cell in row] for row in rows])
    return buffer.getvalue().encode("utf-8")


def payment_reference(batch_id: str, partner_id: str) -> str:
    return f"{batch_id}-{partner_id}"


def paypal_payouts_csv(batch_id: str, lines: Sequence[Mapping[str, object]]) -> bytes:
    rows = [
        [
            str(line["payout_account"]),
            str(line["amount"]),
            str(line["currency"]),
            payment_reference(batch_id, str(line["partner_id"])),
            f"Partner payout {batch_id}",
            PAYPAL_WALLET,
        ]
        for line in lines
    ]
    return _csv(rows, header=None)


def wise_batch_csv(batch_id: str, lines: Sequence[Mapping[str, object]]) -> bytes:
    rows = [
        [
            str(line["partner_name"] or line["partner_id"]),
            str(line["payout_account"]),
            batch_id[:WISE_REFERENCE_LENGTH],
            WISE_RECEIVER_TYPE,
            WISE_AMOUNT_CURRENCY,
            str(line["amount"]),
            str(line["currency"]),
            str(line["currency"]),
        ]
        for line in lines
    ]
    return _csv(rows, header=WISE_HEADER)


def rail_files(batch_id: str, lines: Sequence[Mapping[str, object]]) -> dict[str, bytes]:
    """The PayPal and Wise upload files of a batch's payout lines (rows of payouts.csv, in
    partner_id order), each only when the batch has lines of its method."""
    files: dict[str, bytes] = {}
    paypal = [line for line in lines if line["payout_method"] == "paypal"]
    wise = [line for line in lines if line["payout_method"] == "wise"]
    if paypal:
        files[PAYPAL_FILE] = paypal_payouts_csv(batch_id, paypal)
    if wise:
        files[WISE_FILE] = wise_batch_csv(batch_id, wise)
    return files
