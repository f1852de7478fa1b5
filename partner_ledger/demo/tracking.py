"""The tracking files other than clicks: partners, coupons, leads, signups, adjustments."""

from __future__ import annotations

import random

from partner_ledger.demo.context import (
    _csv_line,
    _Ctx,
    _interleave,
    _iso_mixed,
    _scaled,
    _write_lines,
    _write_tracking_file,
    iso,
)
from partner_ledger.demo.journeys import _delivery_dates
from partner_ledger.demo.partners import _partner_row
from partner_ledger.demo.shape import DAY, HOUR, PROGRAMS, TRACKING_HEADERS


def _bad_count(rng: random.Random, rows: int, kinds: int) -> int:
    """About 0.5 % of a file, and at least one row of each malformed kind."""
    return max(kinds, round(rows * 0.005 * (0.8 + 0.4 * rng.random())))


def _malformed_partners(ctx: _Ctx, rng: random.Random, n: int) -> list[str]:
    lines = []
    for k in range(n):
        partner = rng.choice(ctx.partners)
        row = list(partner.base_row)
        row[0] = f"pt_{partner.shape.short}9{k:04d}"
        row[2] = f"{partner.code}-{k}"  # a code of its own: one reason per bad row
        kind = k % 6
        if kind == 0:
            row[6] = iso(partner.joined_ts)[:19]  # no Z, no offset
        elif kind == 1:
            row[7] = "paused"
        elif kind == 2:
            row[9] = "bank_transfer"
        elif kind == 3:
            row[0] = ""
        elif kind == 4:
            row[1] = "prog_gbp"
        else:
            row = row[:8]
        lines.append(_csv_line(row))
    return lines


def _write_partners(ctx: _Ctx) -> None:
    rng = ctx.rng("partners-files")
    folder = ctx.landing / "tracking" / "partners"
    base = [_csv_line(p.base_row) for p in ctx.partners]
    bad = _malformed_partners(ctx, rng, _bad_count(rng, len(base), 6))
    first, last = _delivery_dates(ctx)
    _write_lines(
        folder / f"partners-{first}.csv", TRACKING_HEADERS["partners"], _interleave(rng, base, bad)
    )
    updates = [_csv_line(p.update_row) for p in ctx.partners if p.update_row is not None]
    # A new partner whose code is already taken: quarantined as duplicate_partner_code.
    taken = ctx.partners[0]
    clash = _partner_row(
        taken, "active", "", "paypal", "copycat@example.net", iso(ctx.end_ts - 30 * DAY)
    )
    clash[0], clash[3], clash[4] = f"pt_{taken.shape.short}88888", "Copy Cat", "copycat@example.net"
    _write_lines(
        folder / f"partners-{last}.csv",
        TRACKING_HEADERS["partners"],
        [*updates, _csv_line(clash)],
    )
    ctx.add("partners", len(ctx.partners))
    ctx.add("partner_rows", len(base) + len(updates))
    ctx.add("malformed_rows", len(bad) + 1)
    ctx.add("files", 2)


def _write_coupons(ctx: _Ctx) -> None:
    rng = ctx.rng("coupons-file")
    rows = [_csv_line(c) for c in ctx.coupons]
    bad = [
        _csv_line([f"BAD{k}", "prog_eur", ""])
        if k % 2 == 0
        else _csv_line([f"BAD{k}", "prog_xyz", ctx.partners[0].partner_id])
        for k in range(_bad_count(rng, len(rows), 2))
    ]
    _write_tracking_file(ctx, rng, "coupons", "coupons.csv", rows, bad)


def _write_leads(ctx: _Ctx) -> None:
    """``leads/leads.csv.gz``, in time order."""
    rng = ctx.rng("leads-file")
    leads = sorted(ctx.leads, key=lambda lead: (lead[0], lead[1].program_id, lead[2], lead[3]))
    rows = [
        _csv_line([f"lead_{n:07d}", shape.program_id, code, email, _iso_mixed(rng, ts)])
        for n, (ts, shape, code, email) in enumerate(leads, start=1)
    ]
    bad = []
    for k in range(_bad_count(rng, len(rows), 3)):
        ts, shape, code, email = rng.choice(leads)
        if k % 3 == 0:
            bad.append(_csv_line([f"lead_9{k:06d}", shape.program_id, code, email, iso(ts)[:10]]))
        elif k % 3 == 1:
            bad.append(_csv_line(["", shape.program_id, code, email, iso(ts)]))
        else:
            bad.append(_csv_line([f"lead_9{k:06d}", shape.program_id, code]))
    _write_tracking_file(ctx, rng, "leads", "leads.csv.gz", rows, bad)


def _write_signups(ctx: _Ctx) -> None:
    rng = ctx.rng("signups-file")
    rows = []
    for journey in ctx.journeys:
        if journey.signup_ts is None:
            continue
        click = ctx.jc_click_id[journey.signup_click] if journey.signup_click >= 0 else ""
        rows.append(
            (
                journey.signup_ts,
                [
                    journey.shape.program_id,
                    journey.customer_key,
                    journey.signup_email,
                    _iso_mixed(rng, journey.signup_ts),
                    click,
                    journey.signup_visitor,
                ],
            )
        )
    rows.sort(key=lambda row: (row[0], row[1][0], row[1][1]))
    lines = [_csv_line(row) for _, row in rows]
    bad = []
    for k in range(_bad_count(rng, len(lines), 3)):
        _, row = rng.choice(rows)
        broken = list(row)
        if k % 3 == 0:
            broken[1] = ""
        elif k % 3 == 1:
            broken[3] = broken[3][:10]
        else:
            broken[0] = "prog_legacy"
        bad.append(_csv_line(broken))
    _write_tracking_file(ctx, rng, "signups", "signups.csv", lines, bad)


# --- finance adjustments ------------------------------------------------------------------------

ADJUSTMENT_REASONS: tuple[tuple[str, int, int], ...] = (
    ("bonus: top partner of the quarter", 10000, 50000),
    ("bonus: co-hosted webinar", 2500, 15000),
    ("goodwill: tracking outage", 1000, 10000),
    ("correction: duplicate commission", -20000, -500),
    ("correction: commission on a test account", -8000, -500),
)


def _write_adjustments(ctx: _Ctx) -> None:
    """``adjustments.csv``, then ``adjustments-<date>.csv`` re-delivering one with a new amount."""
    rng = ctx.rng("adjustments")
    rows: list[tuple[int, list[str]]] = []
    for shape in PROGRAMS:
        partners = [p for p in ctx.partners if p.shape is shape]
        for _ in range(_scaled(shape.adjustments_per_year, ctx.scale, ctx.months)):
            ts = rng.randrange(ctx.start_ts, ctx.end_ts) // 60 * 60
            eligible = [p for p in partners if p.joined_ts <= ts] or partners
            partner = rng.choice(eligible)
            reason, lo, hi = rng.choice(ADJUSTMENT_REASONS)
            amount = rng.randrange(lo, hi, 100) or 100
            rows.append((ts, [shape.program_id, partner.partner_id, str(amount), iso(ts), reason]))
    rows.sort(key=lambda item: (item[0], item[1][0], item[1][1]))
    numbered = [[f"adj_{n:05d}", *row] for n, (_, row) in enumerate(rows, start=1)]
    folder = ctx.landing / "tracking" / "adjustments"
    bad = [
        _csv_line(
            [
                "adj_90001",
                numbered[0][1],
                numbered[0][2],
                "0",
                numbered[0][4],
                "correction: nothing",
            ]
        ),
        _csv_line(["adj_90002", numbered[0][1], numbered[0][2], "12.5", numbered[0][4], "bonus"]),
        _csv_line(
            ["adj_90003", "prog_eur", "pt_e99999", "5000", numbered[0][4], "bonus: unknown partner"]
        ),
    ]
    lines = _interleave(rng, [_csv_line(row) for row in numbered], bad)
    first, last = _delivery_dates(ctx)
    _write_lines(folder / f"adjustments-{first}.csv", TRACKING_HEADERS["adjustments"], lines)
    changed = list(rng.choice(numbered))
    changed[3] = str(int(changed[3]) + (2500 if int(changed[3]) > 0 else -1000))
    changed[5] += " (amended)"
    ts = ctx.end_ts - 20 * DAY + 9 * HOUR  # year-end bonuses
    extra = [rng.choice(ctx.partners) for _ in range(2)]
    late = [
        changed,
        *(
            [
                f"adj_{len(numbered) + i + 1:05d}",
                p.shape.program_id,
                p.partner_id,
                "7500",
                iso(ts),
                "bonus: year-end",
            ]
            for i, p in enumerate(extra)
        ),
    ]
    _write_lines(
        folder / f"adjustments-{last}.csv",
        TRACKING_HEADERS["adjustments"],
        [_csv_line(row) for row in late],
    )
    ctx.add("adjustments", len(numbered) + len(extra))
    ctx.add("malformed_rows", len(bad))
    ctx.add("files", 2)
