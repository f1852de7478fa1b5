"""The generation context (seeded generators, partners, journeys) and small pure helpers."""

from __future__ import annotations

import bisect
import calendar
import csv
import gzip
import io
import itertools
import random
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

from partner_ledger.demo.shape import (
    ALNUM,
    BYTE_TO_ALNUM,
    DAY,
    FIRST_NAMES,
    HOUR,
    IBAN_LAYOUTS,
    LAST_NAMES,
    NEVER,
    TRACKING_HEADERS,
    ProgramShape,
)
from partner_ledger.rules.payout_details import iban_check_digits


def _random_iban(rng: random.Random) -> str:
    country, layout = rng.choice(IBAN_LAYOUTS)
    pick = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "c": ALNUM[:26] + ALNUM[52:]}
    bban = "".join(rng.choice(pick[kind]) for kind in layout)
    return country + iban_check_digits(country, bban) + bban


def _break_iban(rng: random.Random, iban: str) -> str:
    """Change one BBAN digit: mod-97 catches every single substitution."""
    positions = [i for i in range(4, len(iban)) if iban[i].isdigit()]
    i = rng.choice(positions)
    return iban[:i] + str((int(iban[i]) + rng.randint(1, 9)) % 10) + iban[i + 1 :]


def _group_iban(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _ts(day: date) -> int:
    return calendar.timegm(day.timetuple())


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _add_months_ts(ts: int, months: int) -> int:
    moment = datetime.fromtimestamp(ts, UTC)
    day = _add_months(moment.date(), months)
    return _ts(day) + (ts % DAY)


def iso(ts: int, offset_minutes: int = 0) -> str:
    """ISO-8601 with ``Z``, or with the given UTC offset (the same instant)."""
    moment = datetime.fromtimestamp(ts, UTC)
    if offset_minutes == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    local = moment + timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hours:02d}:{minutes:02d}"


def _iso_mixed(rng: random.Random, ts: int) -> str:
    """Mostly ``Z``; one in ten written with a +02:00 offset (a CEST producer)."""
    return iso(ts, 120) if rng.random() < 0.1 else iso(ts)


def _visitor_id(number: int) -> str:
    """A random-looking, collision-free visitor id (a bijection of ``number`` mod 10^10)."""
    return f"v_{(number * 2654435761 + 48271) % 10**10:010d}"


def _daytime(rng: random.Random, day_start: int) -> int:
    """An instant of the day, weighted to working hours."""
    return day_start + int(rng.triangular(5, 24, 14) * HOUR) + rng.randrange(HOUR)


def _stripe_id(rng: random.Random, prefix: str, seen: set[str]) -> str:
    """A Stripe-looking id (``cus_1`` + 23 letters or digits), unique within the generation."""
    while True:
        candidate = prefix + "1" + rng.randbytes(23).translate(BYTE_TO_ALNUM).decode()
        if candidate not in seen:
            seen.add(candidate)
            return candidate


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _csv_line(fields: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()


def _scaled(base: float, scale: int, months: int) -> int:
    return max(1, round(base * scale * months / 12))


@contextmanager
def _open_out(path: Path) -> Iterator[IO[bytes]]:
    """A binary output file; ``.gz`` gets a reproducible gzip header (no name, mtime 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
                yield gz
        else:
            yield raw


def _write_lines(path: Path, header: Sequence[str] | None, lines: Sequence[str]) -> None:
    with _open_out(path) as out:
        if header is not None:
            out.write(_csv_line(header).encode())
        out.write("".join(lines).encode())


def _interleave(rng: random.Random, lines: list[str], extra: Sequence[str]) -> list[str]:
    """``lines`` with each of ``extra`` inserted at a random position."""
    return list(_interleaved(lines, _interleave_positions(rng, len(lines), extra)))


def _interleave_positions(rng: random.Random, count: int, extra: Sequence[str]) -> dict[int, str]:
    """Where each of ``extra``, inserted in turn at a random position among ``count`` lines,
    ends up: {final position: line}."""
    positions: list[int] = []  # of extra[0], extra[1], ...: moved on as later ones go before
    for number in range(len(extra)):
        position = rng.randint(0, count + number)
        positions = [p + 1 if p >= position else p for p in positions]
        positions.append(position)
    return dict(zip(positions, extra, strict=True))


def _interleaved(lines: Iterable[str], placed: dict[int, str]) -> Iterator[str]:
    """``lines`` with the lines of ``placed`` at their final positions, one at a time (a
    Stripe file of millions of lines is streamed, never held as a list)."""
    position = 0
    for line in lines:
        while position in placed:
            yield placed[position]
            position += 1
        yield line
        position += 1
    while position in placed:
        yield placed[position]
        position += 1


def _write_tracking_file(
    ctx: _Ctx, rng: random.Random, name: str, file_name: str, rows: list[str], bad: Sequence[str]
) -> None:
    """``tracking/<name>/<file_name>``: its header, ``rows`` with the malformed ``bad`` lines at
    random places; counted as ``name`` rows, malformed rows and one file."""
    _write_lines(
        ctx.landing / "tracking" / name / file_name,
        TRACKING_HEADERS[name],
        _interleave(rng, rows, bad),
    )
    ctx.add(name, len(rows))
    ctx.add("malformed_rows", len(bad))
    ctx.add("files")


# --- the generation context ---------------------------------------------------------------------


@dataclass
class _Partner:
    idx: int
    shape: ProgramShape
    partner_id: str
    code: str
    name: str
    email: str
    joined_ts: int
    weight: float
    recruited_by: str = ""
    status: str = "active"
    changed_ts: int | None = None
    method: str = ""
    account: str = ""
    base_row: list[str] = field(default_factory=list)
    update_row: list[str] | None = None

    @property
    def stop_ts(self) -> int:
        """From when the partner is no longer active (clicks mostly stop)."""
        if self.status == "active":
            return NEVER
        return self.joined_ts if self.changed_ts is None else self.changed_ts


@dataclass
class _Journey:
    shape: ProgramShape
    customer_key: str
    email: str  # canonical (trimmed, lower-case)
    signup_email: str  # as typed on the signup form
    signup_ts: int | None  # None: no signup (a Stripe customer that came another way)
    channel: str  # stripe | sale | none
    signup_click: int = -1  # index into the journey clicks, or -1
    signup_visitor: str = ""
    stripe_click: int = -1
    coupon: str = ""
    created_ts: int = 0  # without a signup: when the Stripe customer appeared


@dataclass
class _Ctx:
    """State shared by the steps of one generation (never module-level)."""

    landing: Path
    seed: int
    scale: int
    months: int
    start_ts: int
    end_ts: int
    customer_scale: int = 0  # 0: the same as scale
    partners: list[_Partner] = field(default_factory=list)
    coupons: list[tuple[str, str, str]] = field(default_factory=list)  # code, program, partner
    journeys: list[_Journey] = field(default_factory=list)
    jc_partner: list[int] = field(default_factory=list)  # journey clicks, partner idx
    jc_ts: list[int] = field(default_factory=list)
    jc_visitor: list[int] = field(default_factory=list)
    jc_click_id: list[str] = field(default_factory=list)
    leads: list[tuple[int, ProgramShape, str, str]] = field(default_factory=list)
    stripe_ids: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    visitor_pool: int = 1
    next_visitor: int = 0

    def rng(self, name: str) -> random.Random:
        """An independent stream per step, so one step's draws never shift another's."""
        return random.Random(f"{self.seed}:{self.scale}:{name}")

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def new_visitor(self) -> int:
        self.next_visitor += 1
        return self.visitor_pool + self.next_visitor


class _PartnerPicker:
    """Weighted choice of a program's partner that had joined by a given instant."""

    def __init__(self, partners: list[_Partner]) -> None:
        self.ordered = sorted(partners, key=lambda p: (p.joined_ts, p.idx))
        self.joined = [p.joined_ts for p in self.ordered]
        self.cumulative = list(itertools.accumulate(p.weight for p in self.ordered))

    def pick(self, rng: random.Random, ts: int) -> _Partner | None:
        k = bisect.bisect_right(self.joined, ts)
        if k == 0:
            return None
        partner = self.ordered[0]
        for _ in range(3):  # links outlive a partner, but traffic mostly stops
            u = rng.random() * self.cumulative[k - 1]
            partner = self.ordered[min(bisect.bisect_right(self.cumulative, u, 0, k), k - 1)]
            if partner.stop_ts > ts or rng.random() < 0.15:
                return partner
        return partner
