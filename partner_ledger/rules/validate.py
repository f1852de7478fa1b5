"""Validation of a rules folder (SPEC §1.3) before anything is computed.

A rules folder holds six CSV files (``programs.csv``, ``attribution_sources.csv``, ``tiers.csv``,
``phases.csv``, ``rates.csv``, ``fx_rates.csv``). :func:`validate_rules` reads them with the csv
module, checks every row and every rule that spans rows or files, and raises one
:class:`RulesError` listing *all* problems found, each naming the file, the row and what was
expected. Problems name the file's own line numbers, as an editor shows them: the header is
line 1, the first record line 2 (a record with a quoted line break is named by its first line);
``None`` is a problem of the whole file. Nothing here computes money: the rules
themselves stay in the seeds and the SQL that reads them.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType

from partner_ledger.rules.payout_details import iban_problem

RULE_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "programs.csv": (
            "program_id",
            "name",
            "currency",
            "hold_days",
            "min_payout_cents",
            "referral_rate_bps",
            "attribution_model",
            "is_default",
            "debtor_name",
            "debtor_iban",
            "debtor_bic",
        ),
        "attribution_sources.csv": ("program_id", "source", "window_days", "priority"),
        "tiers.csv": (
            "program_id",
            "tier",
            "rank",
            "min_customers",
            "min_revenue_cents",
            "lookback_days",
        ),
        "phases.csv": ("program_id", "phase", "from_month", "to_month"),
        "rates.csv": ("program_id", "tier", "phase", "rate_bps", "valid_from"),
        "fx_rates.csv": ("from_currency", "to_currency", "valid_from", "rate"),
    }
)
"""The files of a rules folder and their columns (SPEC §1.3), in the order they are checked."""

OPTIONAL_RULE_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"review_rules.csv": ("program_id", "check", "max_ratio", "trailing_months")}
)
"""Files a rules folder may hold (issue 14): a program without them behaves as SPEC says."""
REVIEW_CHECKS = ("batch_total", "partner_line", "quarantine_share", "clawback_rate")
TRAILING_CHECKS = ("batch_total", "partner_line")  # compared with the trailing months' median
MAX_TRAILING_MONTHS = 120

ATTRIBUTION_MODELS = ("last_touch", "first_touch")
ATTRIBUTION_SOURCES = ("coupon", "lead_form", "click")
BOOLEANS = {"true": True, "false": False}
MAX_BPS = 10_000  # 10000 basis points = 100 %
SEPA_CURRENCY = "EUR"  # a EUR program pays by SEPA transfer from its debtor account (SPEC §3.2)

_CURRENCY = re.compile(r"[A-Z]{3}")
_INTEGER = re.compile(r"-?[0-9]+")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# program_id becomes a folder name and part of batch_id (SPEC §3.2): no separators, no dot-names,
# no control characters, and short enough to name a folder on any file system.
_PROGRAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_PROGRAM_ID = 64
# currencies ISO 4217 lists for testing (XTS) and for "no currency" (XXX): no program pays in them
NOT_PAYABLE_CURRENCIES = frozenset({"XTS", "XXX"})
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")


# --------------------------------------------------------------------------------------------
# Public types


@dataclass(frozen=True)
class RuleProblem:
    """One problem of a rules folder: the file, the line of the file (1 = the header; None = the
    whole file) and what is wrong, with what was expected."""

    file: str
    line: int | None
    problem: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.file}: {self.problem}"
        return f"{self.file} line {self.line}: {self.problem}"


class RulesError(ValueError):
    """A rules folder is refused. ``problems`` lists every problem found; ``str()`` prints one
    ``<file> line <n>: <problem>`` line per problem."""

    def __init__(self, problems: Iterable[RuleProblem]) -> None:
        self.problems: list[RuleProblem] = list(problems)
        # the problems are the only argument, so the exception survives pickling (Prefect)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


@dataclass(frozen=True)
class RulesSummary:
    """What a valid rules folder declares: its programs (in file order), each program's
    currency, and the program marked ``is_default`` (None when there is none)."""

    program_ids: tuple[str, ...]
    currencies: Mapping[str, str] = field(hash=False)
    default_program_id: str | None


# --------------------------------------------------------------------------------------------
# Currency, text and BIC (the IBAN check is partner_ledger.rules.payout_details, shared with the
# demo generator and twinned by macros/payout_details.sql)


def is_iso_currency(code: str) -> bool:
    """An active ISO 4217 alphabetic code (pycountry's maintained list), other than the testing
    and no-currency codes."""
    import pycountry

    return code not in NOT_PAYABLE_CURRENCIES and pycountry.currencies.get(alpha_3=code) is not None


def has_control_character(text: str) -> bool:
    """Unicode category Cc (C0, DEL, C1): no XML 1.0 document or folder name may hold them."""
    return any(unicodedata.category(char) == "Cc" for char in text)


def is_valid_bic(value: str) -> bool:
    """A BIC by ISO 9362, any letter case: 4 letters (bank), 2 letters (country), 2 letters or
    digits (location), optionally 3 letters or digits (branch). No spaces."""
    return value.isascii() and _BIC.fullmatch(value.upper()) is not None


# --------------------------------------------------------------------------------------------
# Reading


@dataclass
class _Table:
    """The rows of one rules file that have the header's shape, as (line number, values)."""

    name: str
    rows: list[tuple[int, dict[str, str]]]


class _Report:
    """Collects problems, and parses fields reporting what is wrong with them."""

    def __init__(self) -> None:
        self.problems: list[RuleProblem] = []

    def add(self, file: str, row: int | None, problem: str) -> None:
        self.problems.append(RuleProblem(file, row, problem))

    def integer(
        self,
        file: str,
        row: int,
        column: str,
        value: str,
        *,
        minimum: int = 0,
        maximum: int | None = None,
        why_minimum: str = "",
    ) -> int | None:
        bounds = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        expected = f"expected a whole number {bounds}"
        if value == "":
            self.add(file, row, f"{column} is empty; {expected}")
            return None
        # more than 18 digits is no rule value (and int() refuses thousands of digits)
        if not _INTEGER.fullmatch(value) or len(value.lstrip("-")) > 18:
            self.add(file, row, f"{column} {value!r} is not a whole number; {expected}")
            return None
        number = int(value)
        if number < minimum:
            if number < 0 and minimum == 0:
                self.add(file, row, f"{column} {number} is negative; {expected}")
            else:
                self.add(
                    file, row, f"{column} {number} is below {minimum}; {expected}{why_minimum}"
                )
            return None
        if maximum is not None and number > maximum:
            self.add(file, row, f"{column} {number} is above {maximum}; {expected}")
            return None
        return number

    def currency(self, file: str, row: int, column: str, value: str) -> str | None:
        if _CURRENCY.fullmatch(value) and is_iso_currency(value):
            return value
        expected = "expected a three-letter upper-case currency code such as EUR"
        if value == "":
            self.add(file, row, f"{column} is empty; {expected}")
        elif _CURRENCY.fullmatch(value):
            self.add(
                file,
                row,
                f"{column} {value!r} is not an ISO 4217 currency code; expected a code of the "
                "ISO 4217 list such as EUR, USD or GBP",
            )
        else:
            self.add(file, row, f"{column} {value!r} is not a currency code; {expected}")
        return None

    def day(self, file: str, row: int, column: str, value: str) -> date | None:
        expected = "expected a date YYYY-MM-DD"
        if value == "":
            self.add(file, row, f"{column} is empty; {expected}")
            return None
        if _ISO_DATE.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.add(file, row, f"{column} {value!r} is not a valid date; {expected}")
        return None

    def name(self, file: str, row: int, column: str, value: str) -> str | None:
        if value == "":
            self.add(file, row, f"{column} is empty; expected a name")
            return None
        return value

    def choice(
        self, file: str, row: int, column: str, value: str, allowed: Sequence[str]
    ) -> str | None:
        if value in allowed:
            return value
        expected = "expected one of " + ", ".join(allowed)
        shown = "is empty" if value == "" else f"{value!r} is not allowed"
        self.add(file, row, f"{column} {shown}; {expected}")
        return None


def _read_table(rules_dir: Path, name: str, report: _Report) -> _Table | None:
    """Reads one rules file, reporting a missing file, bad encoding, a bad header, malformed CSV
    and rows with the wrong number of fields. Returns None when its rows cannot be trusted."""
    columns = RULE_COLUMNS.get(name) or OPTIONAL_RULE_COLUMNS[name]
    expected_header = "expected the columns " + ", ".join(columns)
    path = rules_dir / name
    if not path.is_file():
        report.add(name, None, f"file is missing from {rules_dir}; {expected_header}")
        return None
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        report.add(
            name,
            None,
            f"is not valid UTF-8 (byte 0x{raw[exc.start]:02x} on line {line}); save it as UTF-8",
        )
        return None
    text = text.removeprefix("\ufeff")  # a byte-order mark, as spreadsheet programs write it
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    read_up_to = 0  # lines consumed so far; a record starts on the next one (header: line 1)
    try:
        header = next(reader, [])
        if not header:
            report.add(name, None, f"file is empty; {expected_header} in a header row")
            return None
        if not _header_ok(name, header, columns, report):
            return None
        table = _Table(name, [])
        read_up_to = reader.line_num
        for fields in reader:
            line, read_up_to = read_up_to + 1, reader.line_num
            if not fields:  # a blank line: ignored
                continue
            if len(fields) != len(header):
                report.add(
                    name,
                    line,
                    f"has {len(fields)} fields, the header has {len(header)}; "
                    "check for a missing field or an unquoted comma",
                )
                continue
            values: dict[str, str] = {}
            for column, value in zip(header, fields, strict=True):
                if value != value.strip():
                    report.add(name, line, f"{column} {value!r} has leading or trailing spaces")
                values[column] = value.strip()
            table.rows.append((line, values))
    except csv.Error as exc:
        report.add(
            name,
            read_up_to + 1,
            f"is not valid CSV ({exc}); the lines after it were not checked",
        )
        return None
    return table


def _header_ok(name: str, header: list[str], columns: Sequence[str], report: _Report) -> bool:
    """Reports missing, duplicated and unknown columns (any order is accepted). False when a
    column the rules need is missing or ambiguous."""
    ok = True
    seen: set[str] = set()
    for column in header:
        if column in seen:
            report.add(name, 1, f"column {column!r} appears twice")
            ok = False
        seen.add(column)
    missing = [column for column in columns if column not in seen]
    if missing:
        report.add(
            name,
            1,
            "missing column(s) " + ", ".join(missing) + "; expected " + ", ".join(columns),
        )
        ok = False
    unknown = [column for column in header if column not in columns]
    if unknown:
        report.add(
            name,
            1,
            "unknown column(s) "
            + ", ".join(repr(column) for column in unknown)
            + "; expected "
            + ", ".join(columns),
        )
    return ok


# --------------------------------------------------------------------------------------------
# Checks, one function per file


@dataclass
class _Programs:
    known: set[str] = field(default_factory=set)  # every non-empty program_id, for references
    order: list[str] = field(default_factory=list)
    currencies: dict[str, str] = field(default_factory=dict)
    default: str | None = None


def _check_programs(table: _Table, report: _Report) -> _Programs:
    file = table.name
    programs = _Programs()
    first_row: dict[str, int] = {}
    defaults: list[tuple[int, str]] = []
    for row, rec in table.rows:
        program_id = rec["program_id"]
        if program_id == "":
            report.add(file, row, "program_id is empty; expected an id")
        elif len(program_id) > MAX_PROGRAM_ID:
            report.add(
                file,
                row,
                f"program_id of {len(program_id)} characters is too long; expected at most "
                f"{MAX_PROGRAM_ID} (it names the payout folder)",
            )
        elif not _PROGRAM_ID.fullmatch(program_id):
            report.add(
                file,
                row,
                f"program_id {program_id!r} is not allowed; expected letters, digits, _ . - "
                "starting with a letter or digit (it names the payout folder)",
            )
        elif program_id in first_row:
            report.add(
                file,
                row,
                f"program_id {program_id!r} is already used at line {first_row[program_id]}; "
                "expected one row a program",
            )
        else:
            first_row[program_id] = row
            programs.order.append(program_id)
        if program_id:
            programs.known.add(program_id)

        report.name(file, row, "name", rec["name"])
        currency = report.currency(file, row, "currency", rec["currency"])
        if currency and program_id in first_row and first_row[program_id] == row:
            programs.currencies[program_id] = currency
        report.integer(file, row, "hold_days", rec["hold_days"])
        report.integer(file, row, "min_payout_cents", rec["min_payout_cents"])
        report.integer(file, row, "referral_rate_bps", rec["referral_rate_bps"], maximum=MAX_BPS)
        report.choice(file, row, "attribution_model", rec["attribution_model"], ATTRIBUTION_MODELS)

        is_default = BOOLEANS.get(rec["is_default"].lower())
        if is_default is None:
            shown = (
                "is empty" if rec["is_default"] == "" else f"{rec['is_default']!r} is not allowed"
            )
            report.add(file, row, f"is_default {shown}; expected true or false")
        elif is_default:
            defaults.append((row, program_id))

        _check_debtor(file, row, rec, currency, report)

    if not table.rows:
        report.add(file, None, "has no programs; expected at least one row")
    if defaults:
        first_default_row, first_default = defaults[0]
        programs.default = first_default
        for row, _ in defaults[1:]:
            report.add(
                file,
                row,
                f"is_default is true, but program {first_default!r} at line {first_default_row} "
                "is already the default; expected at most one default program",
            )
    return programs


def _check_debtor(
    file: str, row: int, rec: Mapping[str, str], currency: str | None, report: _Report
) -> None:
    """A EUR program needs the account payouts are sent from; any other program may leave it
    empty, but what is filled in must still be valid."""
    required = currency == SEPA_CURRENCY
    why = f"a {SEPA_CURRENCY} program pays by SEPA transfer from this account"
    if required and rec["debtor_name"] == "":
        report.add(file, row, f"debtor_name is empty; expected the account holder's name ({why})")
    elif has_control_character(rec["debtor_name"]):
        report.add(
            file,
            row,
            f"debtor_name {rec['debtor_name']!r} holds a control character; expected printable "
            "text (it is written into the SEPA file)",
        )
    iban = rec["debtor_iban"]
    if iban == "":
        if required:
            report.add(file, row, f"debtor_iban is empty; expected a valid IBAN ({why})")
    elif (reason := iban_problem(iban)) is not None:
        report.add(file, row, f"debtor_iban {iban!r} is not a valid IBAN: it {reason}")
    bic = rec["debtor_bic"]
    expected_bic = (
        "expected a BIC (ISO 9362): 4-letter bank code, 2-letter country, 2-character location, "
        "optional 3-character branch"
    )
    if bic == "":
        if required:
            report.add(file, row, f"debtor_bic is empty; {expected_bic} ({why})")
    elif not is_valid_bic(bic):
        report.add(file, row, f"debtor_bic {bic!r} is not a valid BIC; {expected_bic}")


def _known_program(
    file: str, row: int, program_id: str, programs: _Programs | None, report: _Report
) -> bool:
    """Whether the row's program is declared; reported when it is not. True when programs.csv
    could not be read (the row cannot be judged, and that file's problem is reported)."""
    if program_id == "":
        report.add(file, row, "program_id is empty; expected a program of programs.csv")
        return False
    if programs is not None and program_id not in programs.known:
        report.add(file, row, f"program_id {program_id!r} is not a program of programs.csv")
        return False
    return True


def _check_sources(table: _Table, programs: _Programs | None, report: _Report) -> None:
    file = table.name
    by_source: dict[tuple[str, str], int] = {}
    by_priority: dict[tuple[str, int], tuple[int, str]] = {}
    for row, rec in table.rows:
        program_id = rec["program_id"]
        known = _known_program(file, row, program_id, programs, report)
        source = report.choice(file, row, "source", rec["source"], ATTRIBUTION_SOURCES)
        report.integer(file, row, "window_days", rec["window_days"])
        priority = report.integer(file, row, "priority", rec["priority"], minimum=1)
        if not known or source is None:
            continue
        if (program_id, source) in by_source:
            report.add(
                file,
                row,
                f"source {source!r} of program {program_id!r} is already set at line "
                f"{by_source[program_id, source]}; expected one row per program and source",
            )
            continue
        by_source[program_id, source] = row
        if priority is None:
            continue
        if (program_id, priority) in by_priority:
            other_row, other_source = by_priority[program_id, priority]
            report.add(
                file,
                row,
                f"priority {priority} of source {source!r} is already the priority of "
                f"{other_source!r} at line {other_row} in program {program_id!r}; "
                "expected distinct priorities within a program",
            )
        else:
            by_priority[program_id, priority] = (row, source)


def _check_tiers(
    table: _Table, programs: _Programs | None, report: _Report
) -> dict[str, dict[str, int]]:
    """Returns each program's tier names (name -> row) for the rates check."""
    file = table.name
    tiers: dict[str, dict[str, int]] = {}
    ranks: dict[str, dict[int, tuple[int, str]]] = {}
    for row, rec in table.rows:
        program_id = rec["program_id"]
        known = _known_program(file, row, program_id, programs, report)
        tier = report.name(file, row, "tier", rec["tier"])
        rank = report.integer(file, row, "rank", rec["rank"], minimum=1)
        min_customers = report.integer(file, row, "min_customers", rec["min_customers"])
        min_revenue = report.integer(file, row, "min_revenue_cents", rec["min_revenue_cents"])
        # rank 1 has no requirements, so its window counts nothing and 0 is what finance writes;
        # above it, 0 is refused rather than guessed at (docs/decisions/0013-operations.md)
        report.integer(
            file,
            row,
            "lookback_days",
            rec["lookback_days"],
            minimum=0 if rank == 1 else 1,
            why_minimum=" on a tier above rank 1 (a lookback window of 0 days would count "
            "nothing; write the window the requirements are measured over)",
        )
        if rank == 1:
            for column, value in (
                ("min_customers", min_customers),
                ("min_revenue_cents", min_revenue),
            ):
                if value is not None and value != 0:
                    report.add(
                        file,
                        row,
                        f"{column} is {value} on rank 1, the base tier, which has no "
                        "requirements; expected 0",
                    )
        if not known or tier is None:
            continue
        names = tiers.setdefault(program_id, {})
        if tier in names:
            report.add(
                file,
                row,
                f"tier {tier!r} of program {program_id!r} is already defined at line "
                f"{names[tier]}; expected unique tier names within a program",
            )
            continue
        names[tier] = row
        if rank is None:
            continue
        program_ranks = ranks.setdefault(program_id, {})
        if rank in program_ranks:
            other_row, other_tier = program_ranks[rank]
            report.add(
                file,
                row,
                f"rank {rank} is already the rank of tier {other_tier!r} at line {other_row} in "
                f"program {program_id!r}; expected one tier per rank",
            )
        else:
            program_ranks[rank] = (row, tier)

    for program_id, program_ranks in ranks.items():
        found = sorted(program_ranks)
        expected = list(range(1, len(found) + 1))
        if found != expected:
            report.add(
                file,
                None,
                f"ranks of program {program_id!r} are {_listing(found)}; expected "
                f"{_listing(expected)} (rank 1 is the base tier, then no gaps)",
            )
    if programs is not None:
        for program_id in programs.order:
            if program_id not in tiers:
                report.add(
                    file,
                    None,
                    f"program {program_id!r} has no tiers; expected at least its base tier "
                    "(rank 1, no requirements)",
                )
    return tiers


def _check_phases(
    table: _Table, programs: _Programs | None, report: _Report
) -> dict[str, dict[str, int]]:
    """Returns each program's phase names (name -> row) for the rates check."""
    file = table.name
    phases: dict[str, dict[str, int]] = {}
    spans: dict[str, list[tuple[int, str, int, int | None]]] = {}
    for row, rec in table.rows:
        program_id = rec["program_id"]
        known = _known_program(file, row, program_id, programs, report)
        phase = report.name(file, row, "phase", rec["phase"])
        from_month = report.integer(file, row, "from_month", rec["from_month"], minimum=1)
        to_month: int | None = None
        span_ok = from_month is not None
        if rec["to_month"] != "":
            to_month = report.integer(file, row, "to_month", rec["to_month"], minimum=1)
            if to_month is None:
                span_ok = False
            elif from_month is not None and to_month < from_month:
                report.add(
                    file,
                    row,
                    f"to_month {to_month} is before from_month {from_month}; expected "
                    "to_month >= from_month (inclusive), or empty for an open-ended phase",
                )
                span_ok = False
        if not known or phase is None:
            continue
        names = phases.setdefault(program_id, {})
        if phase in names:
            report.add(
                file,
                row,
                f"phase {phase!r} of program {program_id!r} is already defined at line "
                f"{names[phase]}; expected unique phase names within a program",
            )
            continue
        names[phase] = row
        if not span_ok or from_month is None:
            continue
        for other_row, other_phase, other_from, other_to in spans.get(program_id, []):
            if _overlap(from_month, to_month, other_from, other_to):
                report.add(
                    file,
                    row,
                    f"phase {phase!r} (months {_months(from_month, to_month)}) overlaps phase "
                    f"{other_phase!r} (months {_months(other_from, other_to)}) at line "
                    f"{other_row} in program {program_id!r}; expected phases that share no month",
                )
        spans.setdefault(program_id, []).append((row, phase, from_month, to_month))
    if programs is not None:
        for program_id in programs.order:
            if program_id not in phases:
                report.add(
                    file,
                    None,
                    f"program {program_id!r} has no phases; expected at least one "
                    "(no phase, no commission)",
                )
    return phases


def _check_rates(
    table: _Table,
    programs: _Programs | None,
    tiers: dict[str, dict[str, int]] | None,
    phases: dict[str, dict[str, int]] | None,
    report: _Report,
) -> None:
    file = table.name
    first_row: dict[tuple[str, str, str, date], int] = {}
    covered: set[tuple[str, str, str]] = set()
    for row, rec in table.rows:
        program_id, tier, phase = rec["program_id"], rec["tier"], rec["phase"]
        known = _known_program(file, row, program_id, programs, report)
        if report.name(file, row, "tier", tier) is None:
            known = False
        elif known and tiers is not None and tier not in tiers.get(program_id, {}):
            report.add(
                file,
                row,
                f"tier {tier!r} is not a tier of program {program_id!r} in tiers.csv; "
                f"expected one of {_listing(tiers.get(program_id, {}))}",
            )
            known = False
        if report.name(file, row, "phase", phase) is None:
            known = False
        elif known and phases is not None and phase not in phases.get(program_id, {}):
            report.add(
                file,
                row,
                f"phase {phase!r} is not a phase of program {program_id!r} in phases.csv; "
                f"expected one of {_listing(phases.get(program_id, {}))}",
            )
            known = False
        report.integer(file, row, "rate_bps", rec["rate_bps"], maximum=MAX_BPS)
        valid_from = report.day(file, row, "valid_from", rec["valid_from"])
        if not known:
            continue
        covered.add((program_id, tier, phase))
        if valid_from is None:
            continue
        key = (program_id, tier, phase, valid_from)
        if key in first_row:
            report.add(
                file,
                row,
                f"a rate for program {program_id!r}, tier {tier!r}, phase {phase!r} valid from "
                f"{valid_from.isoformat()} is already set at line {first_row[key]}; expected one "
                "rate per program, tier, phase and valid_from",
            )
        else:
            first_row[key] = row
    if programs is None or tiers is None or phases is None:
        return
    for program_id in programs.order:
        for tier in tiers.get(program_id, {}):
            for phase in phases.get(program_id, {}):
                if (program_id, tier, phase) not in covered:
                    report.add(
                        file,
                        None,
                        f"no rate for tier {tier!r} in phase {phase!r} of program "
                        f"{program_id!r}; expected at least one row for every tier and phase",
                    )


def _check_fx_rates(table: _Table, report: _Report) -> None:
    file = table.name
    first_row: dict[tuple[str, str, date], int] = {}
    for row, rec in table.rows:
        source = report.currency(file, row, "from_currency", rec["from_currency"])
        target = report.currency(file, row, "to_currency", rec["to_currency"])
        if source is not None and source == target:
            report.add(
                file,
                row,
                f"from_currency and to_currency are both {source}; expected two currencies",
            )
        valid_from = report.day(file, row, "valid_from", rec["valid_from"])
        _positive_decimal(file, row, "rate", rec["rate"], report)
        if source is None or target is None or valid_from is None:
            continue
        key = (source, target, valid_from)
        if key in first_row:
            report.add(
                file,
                row,
                f"a rate {source}->{target} valid from {valid_from.isoformat()} is already set "
                f"at line {first_row[key]}; expected one rate per pair and valid_from",
            )
        else:
            first_row[key] = row


def _check_review_rules(table: _Table, programs: _Programs | None, report: _Report) -> None:
    """review_rules.csv: one threshold per program and check; `trailing_months` for the checks
    against the trailing months' median only (docs/decisions/0024-review-before-payment.md)."""
    file = table.name
    first_row: dict[tuple[str, str], int] = {}
    for row, rec in table.rows:
        known = _known_program(file, row, rec["program_id"], programs, report)
        program_id = rec["program_id"] if known else None
        check = report.choice(file, row, "check", rec["check"], REVIEW_CHECKS)
        _positive_decimal(file, row, "max_ratio", rec["max_ratio"], report)
        if check in TRAILING_CHECKS:
            report.integer(
                file,
                row,
                "trailing_months",
                rec["trailing_months"],
                minimum=1,
                maximum=MAX_TRAILING_MONTHS,
            )
        elif check is not None and rec["trailing_months"] != "":
            report.add(
                file,
                row,
                f"trailing_months {rec['trailing_months']!r} is set for check {check}; expected "
                f"it empty (only {' and '.join(TRAILING_CHECKS)} compare with trailing months)",
            )
        if program_id is None or check is None:
            continue
        if (program_id, check) in first_row:
            report.add(
                file,
                row,
                f"check {check} of program {program_id} is already set at line "
                f"{first_row[program_id, check]}; expected one threshold per program and check",
            )
        else:
            first_row[program_id, check] = row


def _positive_decimal(file: str, row: int, column: str, value: str, report: _Report) -> None:
    expected = "expected a plain decimal number greater than 0, such as 0.92"
    if value == "":
        report.add(file, row, f"{column} is empty; {expected}")
        return
    if not _PLAIN_DECIMAL.fullmatch(value):
        report.add(file, row, f"{column} {value!r} is not a plain decimal number; {expected}")
        return
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern only lets plain decimals through
        report.add(file, row, f"{column} {value!r} is not a decimal number; {expected}")
        return
    if number <= 0:
        report.add(file, row, f"{column} {value} is not greater than 0; {expected}")


# --------------------------------------------------------------------------------------------
# Entry point


def validate_rules(rules_dir: Path) -> RulesSummary:
    """Checks a rules folder (SPEC §1.3) before anything is computed.

    Raises RulesError listing every problem found (file, row, what was expected); otherwise
    returns what the folder declares."""
    rules_dir = Path(rules_dir)
    report = _Report()
    if not rules_dir.is_dir():
        report.add(str(rules_dir), None, "is not a folder; expected a rules folder")
        raise RulesError(report.problems)

    tables = {name: _read_table(rules_dir, name, report) for name in RULE_COLUMNS}
    programs_table = tables["programs.csv"]
    programs = _check_programs(programs_table, report) if programs_table else None
    if sources := tables["attribution_sources.csv"]:
        _check_sources(sources, programs, report)
    tiers_table, phases_table = tables["tiers.csv"], tables["phases.csv"]
    tiers = _check_tiers(tiers_table, programs, report) if tiers_table else None
    phases = _check_phases(phases_table, programs, report) if phases_table else None
    if rates := tables["rates.csv"]:
        _check_rates(rates, programs, tiers, phases, report)
    if fx_rates := tables["fx_rates.csv"]:
        _check_fx_rates(fx_rates, report)
    for name in OPTIONAL_RULE_COLUMNS:  # absent: the program is not reviewed
        if (rules_dir / name).exists() and (review := _read_table(rules_dir, name, report)):
            _check_review_rules(review, programs, report)

    if report.problems:
        raise RulesError(_in_file_order(report.problems))
    assert programs is not None  # no problems: programs.csv was read
    return RulesSummary(
        program_ids=tuple(programs.order),
        currencies=MappingProxyType(dict(programs.currencies)),
        default_program_id=programs.default,
    )


def _in_file_order(problems: list[RuleProblem]) -> list[RuleProblem]:
    """Problems grouped by file (in RULE_COLUMNS order), then by row, whole-file ones last;
    stable, so a row's problems keep the order of its columns."""
    files = list(RULE_COLUMNS) + list(OPTIONAL_RULE_COLUMNS)

    def key(problem: RuleProblem) -> tuple[int, int]:
        file_rank = files.index(problem.file) if problem.file in files else len(files)
        return (file_rank, problem.line if problem.line is not None else 1 << 62)

    return sorted(problems, key=key)


def _listing(values: Iterable[object]) -> str:
    items = [str(value) for value in values]
    return ", ".join(items) if items else "(none)"


def _months(first: int, last: int | None) -> str:
    return f"{first}-{last if last is not None else 'open'}"


def _overlap(first_a: int, last_a: int | None, first_b: int, last_b: int | None) -> bool:
    """Whether two inclusive month spans share a month; None is an open end."""
    a_reaches_b = last_a is None or last_a >= first_b
    b_reaches_a = last_b is None or last_b >= first_a
    return a_reaches_b and b_reaches_a
