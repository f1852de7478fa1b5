"""Tests of the demo landing generator (partner_ledger/demo/) and of the default rules in seeds/."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from partner_ledger.demo import (
    PROGRAMS,
    TRACKING_HEADERS,
    DemoStats,
    generate_demo_landing,
)
from partner_ledger.io import warehouse
from partner_ledger.rules.payout_details import is_valid_iban, is_valid_payout

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

# SPEC §1.1, written out again here so that the test does not trust the module under test.
SPEC_TRACKING_HEADERS: dict[str, list[str]] = {
    "partners": [
        "partner_id",
        "program_id",
        "partner_code",
        "name",
        "email",
        "recruited_by",
        "joined_at",
        "status",
        "status_changed_at",
        "payout_method",
        "payout_account",
    ],
    "coupons": ["coupon_code", "program_id", "partner_id"],
    "clicks": [
        "click_id",
        "program_id",
        "partner_code",
        "occurred_at",
        "visitor_id",
        "landing_url",
    ],
    "leads": ["lead_id", "program_id", "partner_code", "email", "occurred_at"],
    "signups": ["program_id", "customer_key", "email", "occurred_at", "click_id", "visitor_id"],
    "sales": [
        "transaction_id",
        "program_id",
        "customer_key",
        "kind",
        "amount_cents",
        "currency",
        "occurred_at",
        "refund_of",
        "coupon_code",
    ],
    "adjustments": [
        "adjustment_id",
        "program_id",
        "partner_id",
        "amount_cents",
        "effective_at",
        "reason",
    ],
}
# SPEC §1.3
SPEC_SEED_HEADERS: dict[str, list[str]] = {
    "programs.csv": [
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
    ],
    "attribution_sources.csv": ["program_id", "source", "window_days", "priority"],
    "tiers.csv": [
        "program_id",
        "tier",
        "rank",
        "min_customers",
        "min_revenue_cents",
        "lookback_days",
    ],
    "phases.csv": ["program_id", "phase", "from_month", "to_month"],
    "rates.csv": ["program_id", "tier", "phase", "rate_bps", "valid_from"],
    "fx_rates.csv": ["from_currency", "to_currency", "valid_from", "rate"],
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")


# --- helpers -----------------------------------------------------------------------------------


def _text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8")


def _raw_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and every data row as delivered, malformed ones included."""
    header, *rows = list(csv.reader(io.StringIO(_text(path), newline="")))
    return header, rows


def _is_timestamp(value: str) -> bool:
    if not TIMESTAMP.match(value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _valid_rows(landing: Path, table: str, key_columns: int = 1) -> list[dict[str, str]]:
    """Rows of every file of a table, dropping the deliberately malformed ones we can spot."""
    out = []
    known_programs = {p.program_id for p in PROGRAMS}
    for path in sorted((landing / "tracking" / table).iterdir()):
        header, rows = _raw_rows(path)
        for row in rows:
            if len(row) != len(header):
                continue
            record = dict(zip(header, row, strict=True))
            if record["program_id"] not in known_programs or not all(row[:key_columns]):
                continue
            stamps = [v for k, v in record.items() if k.endswith("_at") and v]
            if not all(_is_timestamp(v) for v in stamps):
                continue
            record["_file"] = path.name
            out.append(record)
    return out


def _jsonl(landing: Path, name: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(objects with an id, lines that are not a JSON object with an id)."""
    objects, bad = [], []
    for line in (landing / "stripe" / f"{name}.jsonl").read_text().splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            bad.append(line)
            continue
        if isinstance(obj, dict) and obj.get("id"):
            objects.append(obj)
        else:
            bad.append(line)
    return objects, bad


def _latest(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest delivered version of each Stripe object (a later line supersedes)."""
    return {obj["id"]: obj for obj in objects}


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoStats]:
    landing = tmp_path_factory.mktemp("demo") / "landing"
    return landing, generate_demo_landing(landing)


@pytest.fixture(scope="module")
def landing(generated: tuple[Path, DemoStats]) -> Path:
    return generated[0]


# --- determinism and layout --------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(landing: Path, tmp_path: Path) -> None:
    again = tmp_path / "landing"
    generate_demo_landing(again)
    assert _digest(again) == _digest(landing)


def test_another_seed_gives_other_data(landing: Path, tmp_path: Path) -> None:
    other = tmp_path / "landing"
    generate_demo_landing(other, seed=7, months=2)
    assert (other / "stripe" / "customers.jsonl").read_bytes() != (
        landing / "stripe" / "customers.jsonl"
    ).read_bytes()


def test_layout_follows_spec(landing: Path) -> None:
    for table in SPEC_TRACKING_HEADERS:
        files = list((landing / "tracking" / table).iterdir())
        assert files, table
        assert all(f.name.endswith((".csv", ".csv.gz")) for f in files)
    for name in ("customers", "invoices", "charges", "refunds", "disputes"):
        assert (landing / "stripe" / f"{name}.jsonl").is_file()
    assert list(landing.rglob("*.csv.gz")), "some tracking files are gzipped"


def test_every_csv_has_exactly_the_spec_header(landing: Path) -> None:
    assert {k: list(v) for k, v in TRACKING_HEADERS.items()} == SPEC_TRACKING_HEADERS
    assert warehouse.TRACKING_COLUMNS == SPEC_TRACKING_HEADERS  # what the loader expects
    for table, header in SPEC_TRACKING_HEADERS.items():
        for path in (landing / "tracking" / table).iterdir():
            first_line = _text(path).split("\n", 1)[0]
            assert first_line == ",".join(header), path


def test_stats_match_the_files(generated: tuple[Path, DemoStats]) -> None:
    landing, stats = generated
    assert stats.first_day == date(2025, 1, 1)
    assert stats.last_day == date(2025, 12, 31)
    assert stats.signups == len(_valid_rows(landing, "signups", key_columns=2))
    assert stats.stripe_customers == len(_latest(_jsonl(landing, "customers")[0]))
    assert stats.invoices == len(_latest(_jsonl(landing, "invoices")[0]))
    assert stats.disputes == len(_latest(_jsonl(landing, "disputes")[0])) - 1  # + 1 malformed
    assert stats.files == sum(1 for p in landing.rglob("*") if p.is_file())
    assert 250 <= stats.partners <= 400
    assert stats.clicks > 200_000
    assert stats.malformed_rows > 0


def test_scale_multiplies_volume(tmp_path: Path) -> None:
    small = generate_demo_landing(tmp_path / "s1", months=2)
    large = generate_demo_landing(tmp_path / "s3", months=2, scale=3)
    assert large.partners == 3 * small.partners
    assert 2.2 < large.clicks / small.clicks < 3.8
    assert 2.2 < large.signups / small.signups < 3.8
    assert small.last_day == date(2025, 2, 28)


# --- partners ----------------------------------------------------------------------------------


def test_partners_mix(landing: Path) -> None:
    rows = _valid_rows(landing, "partners")
    latest = {r["partner_id"]: r for r in rows}  # files sorted: the later version wins
    assert sum(1 for r in latest.values() if r["recruited_by"]) >= 30
    statuses = Counter(r["status"] for r in latest.values())
    assert statuses["active"] > statuses["suspended"] > 0
    assert statuses["terminated"] > 0
    assert any(r["status"] == "terminated" and r["status_changed_at"] for r in latest.values())
    assert any(r["status"] != "active" and not r["status_changed_at"] for r in latest.values())
    methods = Counter(r["payout_method"] for r in latest.values())
    assert {"paypal", "sepa", "wise", "manual"} <= set(methods)
    assert any(not r["payout_method"] or not r["payout_account"] for r in latest.values())
    assert any(
        r["payout_method"] == "paypal" and not is_valid_payout("paypal", r["payout_account"])
        for r in rows
    )
    sepa = [
        r["payout_account"] for r in rows if r["payout_method"] == "sepa" and r["payout_account"]
    ]
    invalid = [iban for iban in sepa if not is_valid_iban(iban)]
    assert invalid, "a few invalid IBANs"
    assert len(invalid) / len(sepa) < 0.15, "sepa accounts are mostly valid IBANs"
    assert any(" " in iban for iban in sepa if is_valid_iban(iban)), "grouped IBANs are valid too"


def test_second_partners_version_changes_some_rows(landing: Path) -> None:
    files = sorted(p.name for p in (landing / "tracking" / "partners").iterdir())
    assert files == ["partners-2025-01-01.csv", "partners-2025-12-31.csv"]  # path order = delivery
    rows = _valid_rows(landing, "partners")
    first = {r["partner_id"]: r for r in rows if r["_file"] == files[0]}
    later = [r for r in rows if r["_file"] == files[1]]
    changed = [
        r
        for r in later
        if r["partner_id"] in first and r != {**first[r["partner_id"]], "_file": files[1]}
    ]
    assert len(changed) >= 20
    assert any(
        first[r["partner_id"]]["status"] == "active" and r["status"] == "terminated"
        for r in changed
    )
    # a new partner taking a code that another partner of the program already owns
    owners = {(r["program_id"], r["partner_code"]): r["partner_id"] for r in first.values()}
    assert any(
        owners.get((r["program_id"], r["partner_code"]), r["partner_id"]) != r["partner_id"]
        for r in later
    )


def test_partner_codes_are_unique_per_program(landing: Path) -> None:
    first = [
        r
        for r in _valid_rows(landing, "partners")
        if r["_file"] == "partners-2025-01-01.csv"
        and r["status"] in ("active", "suspended", "terminated")
    ]
    codes = Counter((r["program_id"], r["partner_code"]) for r in first)
    ids = Counter(r["partner_id"] for r in first)
    assert max(codes.values()) == 1 and max(ids.values()) == 1


# --- tracking ----------------------------------------------------------------------------------


def test_clicks_and_late_file(landing: Path) -> None:
    folder = landing / "tracking" / "clicks"
    names = sorted(p.name for p in folder.iterdir())
    assert "2025-late.csv" in names
    assert "2025-01.csv" in names and "2025-12.csv.gz" in names
    late = _raw_rows(folder / "2025-late.csv")[1]
    assert len(late) > 100
    assert all(r[3] < "2025-04" for r in late if len(r) == 6), "late clicks carry old timestamps"
    sample = _raw_rows(folder / "2025-06.csv")[1]
    good = [r for r in sample if len(r) == 6 and _is_timestamp(r[3])]
    assert any(r[3].endswith("+02:00") for r in good) and any(r[3].endswith("Z") for r in good)
    assert all(r[4].startswith("v_") and "?aff=" in r[5] for r in good)


def test_signups_reference_clicks_mostly_inside_the_window(landing: Path) -> None:
    clicks = {r["click_id"]: r for r in _valid_rows(landing, "clicks")}
    signups = _valid_rows(landing, "signups", key_columns=2)
    windows = {
        (r["program_id"], r["source"]): int(r["window_days"])
        for r in _seed("attribution_sources.csv")
    }
    with_click = [s for s in signups if s["click_id"]]
    visitor_only = [s for s in signups if not s["click_id"] and s["visitor_id"]]
    neither = [s for s in signups if not s["click_id"] and not s["visitor_id"]]
    assert with_click and visitor_only and neither
    inside = 0
    for signup in with_click:
        click = clicks[signup["click_id"]]  # every referenced click exists
        gap = _parse(signup["occurred_at"]) - _parse(click["occurred_at"])
        assert gap.total_seconds() >= 0
        inside += gap.days < windows[(signup["program_id"], "click")]
    assert 0.8 < inside / len(with_click) < 1.0
    emails = [s["email"] for s in signups]
    assert any(e != e.strip() for e in emails) and any(
        e.strip() != e.strip().lower() for e in emails
    )


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_leads_and_coupons(landing: Path) -> None:
    leads = _valid_rows(landing, "leads")
    assert len(leads) > 500
    signup_emails = {
        s["email"].strip().lower() for s in _valid_rows(landing, "signups", key_columns=2)
    }
    assert sum(1 for lead in leads if lead["email"].lower() in signup_emails) > 50
    coupons = _valid_rows(landing, "coupons")
    partners = {r["partner_id"] for r in _valid_rows(landing, "partners")}
    assert any(not c["partner_id"] for c in coupons), "a coupon without partner to quarantine"
    coupons = [c for c in coupons if c["partner_id"]]
    assert len(coupons) > 50 and all(c["partner_id"] in partners for c in coupons)


def test_sales_and_refunds(landing: Path) -> None:
    rows = _valid_rows(landing, "sales")
    sales = {r["transaction_id"]: r for r in rows if r["kind"] == "sale"}
    refunds = [r for r in rows if r["kind"] == "refund"]
    assert len(sales) > 100 and refunds
    good_refunds = [r for r in refunds if r["refund_of"] in sales]
    assert good_refunds
    for refund in good_refunds:
        sale = sales[refund["refund_of"]]
        assert 0 < int(refund["amount_cents"]) <= int(sale["amount_cents"])
        assert refund["currency"] == sale["currency"]
    amounts = [r["amount_cents"] for r in rows]
    assert any(not a.isdigit() or int(a) <= 0 for a in amounts), (
        "non-positive or non-integer amounts"
    )
    assert any(len(r["currency"]) != 3 for r in rows), "a bad currency"
    assert any(r["kind"] == "refund" and r["refund_of"] not in sales for r in rows)
    assert any(r["coupon_code"] for r in sales.values())


def test_adjustments_redelivered_with_another_amount(landing: Path) -> None:
    rows = _valid_rows(landing, "adjustments")
    by_id: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_id.setdefault(row["adjustment_id"], []).append(row)
    amended = [v for v in by_id.values() if len({r["amount_cents"] for r in v}) > 1]
    assert len(amended) == 1 and {r["_file"] for r in amended[0]} == {
        "adjustments-2025-01-01.csv",
        "adjustments-2025-12-31.csv",
    }
    amounts = [int(r["amount_cents"]) for r in rows if r["amount_cents"].lstrip("-").isdigit()]
    assert any(a > 0 for a in amounts) and any(a < 0 for a in amounts)
    assert any(a == 0 for a in amounts), "a zero adjustment to quarantine"


def test_malformed_rows_are_sprinkled(landing: Path) -> None:
    seen: Counter[str] = Counter()
    total = 0
    for path in (landing / "tracking").rglob("*.csv*"):
        header, rows = _raw_rows(path)
        total += len(rows)
        for row in rows:
            if len(row) != len(header):
                seen["wrong_field_count"] += 1
                continue
            record = dict(zip(header, row, strict=True))
            if record["program_id"] not in {"prog_eur", "prog_usd"}:
                seen["unknown_program"] += 1
            if not row[0]:
                seen["missing_key"] += 1
            if any(k.endswith("_at") and v and not _is_timestamp(v) for k, v in record.items()):
                seen["invalid_timestamp"] += 1
    assert set(seen) == {"wrong_field_count", "unknown_program", "missing_key", "invalid_timestamp"}
    assert 0.001 < sum(seen.values()) / total < 0.01
    bad_lines = sum(len(_jsonl(landing, name)[1]) for name in ("customers", "invoices", "charges"))
    assert bad_lines >= 3
    with pytest.raises(json.JSONDecodeError):
        for line in (landing / "stripe" / "invoices.jsonl").read_text().splitlines():
            json.loads(line)


# --- Stripe ------------------------------------------------------------------------------------


def test_stripe_customers_route_and_identify(landing: Path) -> None:
    customers = list(_latest(_jsonl(landing, "customers")[0]).values())
    metadata = [c["metadata"] for c in customers]
    assert any("affitor_customer_key" in m for m in metadata)
    assert sum(1 for m in metadata if "affitor_customer_key" not in m) > 100, (
        "email matching needed"
    )
    assert any(m.get("affitor_click_id") for m in metadata)
    assert any(m.get("program_id") == "prog_usd" for m in metadata)
    assert any("program_id" not in m for m in metadata), "default program routing"
    assert all(isinstance(c["created"], int) for c in customers)


def test_stripe_invoices_and_charges(landing: Path) -> None:
    invoices = _latest(_jsonl(landing, "invoices")[0])
    charges = _latest(_jsonl(landing, "charges")[0])
    paid = [i for i in invoices.values() if i["status"] == "paid" and i["amount_paid"] > 0]
    assert len(paid) > 5000
    amounts = sorted(i["amount_paid"] - i.get("tax", 0) for i in paid)
    assert 1500 <= amounts[len(amounts) // 2] <= 30000
    assert any("tax" not in i for i in paid) and any(i.get("tax", 0) > 0 for i in paid)
    assert any((i.get("discount") or {}).get("coupon", {}).get("id") for i in paid)
    assert any(i["subscription_details"]["metadata"].get("program_id") for i in paid)
    statuses = Counter(i["status"] for i in invoices.values())
    assert set(statuses) == {"paid", "open", "uncollectible"}
    assert any(i["amount_paid"] == 0 for i in invoices.values() if i["status"] == "paid")  # trials
    for invoice in paid:
        charge = charges[invoice["charge"]]
        assert charge["invoice"] == invoice["id"] and charge["amount"] == invoice["amount_paid"]
        assert isinstance(invoice["status_transitions"]["paid_at"], int)
        assert invoice["currency"] == invoice["currency"].lower()
    one_time = [c for c in charges.values() if not c["invoice"]]
    assert any(c["status"] == "succeeded" and c["paid"] for c in one_time)
    assert any(c["status"] == "failed" and not c["paid"] for c in one_time)
    customers = _latest(_jsonl(landing, "customers")[0])
    usd_in_eur = [
        i
        for i in paid
        if customers[i["customer"]]["metadata"].get("program_id") == "prog_usd"
        and i["currency"] == "eur"
    ]
    eur_in_usd = [
        i
        for i in paid
        if customers[i["customer"]]["metadata"].get("program_id") == "prog_eur"
        and i["currency"] == "usd"
    ]
    assert usd_in_eur and eur_in_usd, "cross-currency payments need fx"


def test_stripe_refunds_and_disputes(landing: Path) -> None:
    charges = _latest(_jsonl(landing, "charges")[0])
    refunds_all = _jsonl(landing, "refunds")[0]
    refunds = _latest(refunds_all)
    assert len(refunds_all) > len(refunds), "status changes arrive as later lines"
    statuses = Counter(r["status"] for r in refunds.values())
    assert {"succeeded", "failed", "canceled", "pending"} <= set(statuses)
    known = [r for r in refunds.values() if r["charge"] in charges and r["amount"] > 0]
    assert any(r["amount"] < charges[r["charge"]]["amount"] for r in known), "partial refunds"
    assert any(r["amount"] == charges[r["charge"]]["amount"] for r in known), "full refunds"
    assert any(r["charge"] not in charges for r in refunds.values()), "refund of an unknown charge"
    disputes = _latest(_jsonl(landing, "disputes")[0])
    assert {"lost", "won"} <= {d["status"] for d in disputes.values()}
    for dispute in disputes.values():
        if dispute["charge"] in charges:
            assert dispute["amount"] == charges[dispute["charge"]]["amount"]


# --- seeds (SPEC §1.3) -------------------------------------------------------------------------


def test_seed_files_have_the_spec_headers() -> None:
    for name, header in SPEC_SEED_HEADERS.items():
        with (SEEDS / name).open(newline="", encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == header, name


def test_programs_seed() -> None:
    programs = {r["program_id"]: r for r in _seed("programs.csv")}
    assert {p.program_id: p.currency for p in PROGRAMS} == {
        k: v["currency"] for k, v in programs.items()
    }
    assert [r["is_default"] for r in programs.values()].count("true") == 1
    assert all(r["is_default"] in ("true", "false") for r in programs.values())
    assert {r["attribution_model"] for r in programs.values()} == {"last_touch", "first_touch"}
    eur = programs["prog_eur"]
    assert eur["is_default"] == "true" and eur["debtor_name"]
    assert is_valid_iban(eur["debtor_iban"]) and BIC.match(eur["debtor_bic"])
    assert eur["debtor_bic"][4:6] == eur["debtor_iban"][:2]
    usd = programs["prog_usd"]
    assert usd["debtor_name"] == usd["debtor_iban"] == usd["debtor_bic"] == ""
    for row in programs.values():
        assert int(row["hold_days"]) > 0 and int(row["min_payout_cents"]) > 0
        assert 0 < int(row["referral_rate_bps"]) <= 10000


def test_attribution_sources_seed() -> None:
    rows = _seed("attribution_sources.csv")
    for program in ("prog_eur", "prog_usd"):
        mine = [r for r in rows if r["program_id"] == program]
        assert sorted(r["source"] for r in mine) == ["click", "coupon", "lead_form"]
        assert sorted(int(r["priority"]) for r in mine) == [1, 2, 3]
        assert all(int(r["window_days"]) >= 0 for r in mine)


def test_tiers_phases_and_rates_seed() -> None:
    tiers = _seed("tiers.csv")
    phases = _seed("phases.csv")
    rates = _seed("rates.csv")
    for program in ("prog_eur", "prog_usd"):
        my_tiers = [t for t in tiers if t["program_id"] == program]
        assert 2 <= len(my_tiers) <= 3
        base = [t for t in my_tiers if t["rank"] == "1"]
        assert len(base) == 1 and base[0]["min_customers"] == base[0]["min_revenue_cents"] == "0"
        assert len({t["rank"] for t in my_tiers}) == len(my_tiers)
        my_phases = sorted(
            (int(p["from_month"]), int(p["to_month"]) if p["to_month"] else None, p["phase"])
            for p in phases
            if p["program_id"] == program
        )
        assert 2 <= len(my_phases) <= 3 and my_phases[0][0] == 1
        for (_, to_month, _), (next_from, _, _) in zip(my_phases, my_phases[1:], strict=False):
            assert to_month is not None and to_month < next_from, "phases do not overlap"
        for tier in my_tiers:
            for _, _, phase in my_phases:
                assert any(
                    r["program_id"] == program and r["tier"] == tier["tier"] and r["phase"] == phase
                    for r in rates
                ), (program, tier["tier"], phase)
    assert all(DATE.match(r["valid_from"]) and 0 < int(r["rate_bps"]) <= 10000 for r in rates)
    versions = Counter((r["program_id"], r["tier"], r["phase"]) for r in rates)
    assert max(versions.values()) >= 2, "a later-dated rate change"
    assert len({r["valid_from"] for r in rates}) >= 2


def test_fx_rates_seed() -> None:
    rows = _seed("fx_rates.csv")
    pairs = Counter((r["from_currency"], r["to_currency"]) for r in rows)
    assert pairs[("USD", "EUR")] >= 3 and pairs[("EUR", "USD")] >= 3
    assert all(DATE.match(r["valid_from"]) and float(r["rate"]) > 0 for r in rows)
    assert min(r["valid_from"] for r in rows) <= "2025-01-01"


def test_iban_check() -> None:
    assert is_valid_iban("DE89370400440532013000")
    assert is_valid_iban("fr76 3000 6000 0112 3456 7890 189")
    assert not is_valid_iban("DE89370400440532013001")
    assert not is_valid_iban("DE8937")


def test_partner_codes_stay_unique_past_the_two_digit_suffixes() -> None:
    """L's 28,500 partners share about 100 company slugs: more partners than a slug's 98
    two-digit codes. The generator hung there; every code must still be new."""
    import random

    from partner_ledger.demo.partners import _partner_identity
    from partner_ledger.demo.shape import RESERVED_CODES

    rng = random.Random(7)
    used: set[str] = set()
    codes = [_partner_identity(rng, used)[2] for _ in range(30_000)]
    assert len(set(codes)) == len(codes) == 30_000
    assert not set(codes) & set(RESERVED_CODES)
    longest = Counter(re.sub(r"\d+$", "", code) for code in codes).most_common(1)[0]
    assert longest[1] > 98, "some slug has more partners than two digits can number"


def test_stripe_files_are_written_line_by_line_as_from_a_list() -> None:
    """The Stripe files are streamed from disk (`_Spill`), not built as one list: the malformed
    lines land where inserting them one by one into the list would put them (the files the
    generator always wrote), and the lines come out sorted by (time, id, line)."""
    import random

    from partner_ledger.demo.billing import _Spill
    from partner_ledger.demo.context import _interleave, _interleave_positions, _interleaved

    for seed in range(50):
        lines = [f"line {i}" for i in range(seed % 7)]
        extra = [f"bad {i}" for i in range(seed % 4)]
        rng, expected = random.Random(seed), list(lines)
        for line in extra:
            expected.insert(rng.randint(0, len(expected)), line)
        assert _interleave(random.Random(seed), lines, extra) == expected
        placed = _interleave_positions(random.Random(seed), len(lines), extra)
        assert list(_interleaved(iter(lines), placed)) == expected

    rng = random.Random(3)
    rows = [(rng.randint(0, 5), f"id_{rng.randint(0, 3)}", f'{{"n": {n}}}') for n in range(400)]
    spill = _Spill()
    try:
        for ts, object_id, line in rows:
            spill.append(ts, object_id, line)
        assert list(spill.lines_in_order()) == [line for _, _, line in sorted(rows)]
    finally:
        spill.close()
