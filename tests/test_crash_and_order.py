"""Crash and delivery-order properties of a night (issue 16).

- Delivery order: the worked example's tracking files are cut into small files delivered one at
  a time in a random order, a tenth of them delivered twice under another name, the Stripe
  files at random points; every order gives the ledger of the landing delivered at once.
- SIGKILL: `partner-ledger run` is killed at a random moment (start-up, ingest, dbt build,
  audit, stage, commit, publish); the next run completes, leaves no partial payout folder, and
  the ledger and the folder equal those of an uninterrupted run. A later night, which works on a
  second name of the committed warehouse (decision 0027), is killed after its first write: every
  table of the warehouse is as it was, and the next run completes it. The runs use the session's
  Prefect server (as a scheduled night uses `prefect server start`), so the moments fall on the
  run's own work instead of half of them on a temporary server's start.

Both are marked `long`: CI runs them at the counts below (environment variables), and the full
counts are noted in docs/decisions/0015-hostile-input-and-bounds.md.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from partner_ledger.io.ingest import ingest_landing
from partner_ledger.io.warehouse import connect, ensure_raw_schema
from partner_ledger.rules.load import load_rules
from partner_ledger.settle.dbt import dbt_build
from tests.conftest import digest_tree

SHUFFLES = int(os.environ.get("PARTNER_LEDGER_SHUFFLES", "1"))
KILLS = int(os.environ.get("PARTNER_LEDGER_KILLS", "1"))
SEED = int(os.environ.get("PARTNER_LEDGER_PROPERTY_SEED", "16"))
AS_OF = "2025-06-01"
REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "partner-ledger"

pytestmark = pytest.mark.long


def ledger_hash(warehouse: Path, recorded_by: str = "9999-12-31") -> str:
    """A hash of the ledger's entries recorded on or before `recorded_by`."""
    con = connect(warehouse, read_only=True)
    try:
        rows = con.execute(
            "select entry_id, program_id, partner_id, currency, entry_type, amount_cents, "
            "earned_at, available_at, recorded_at, source_key, batch_id "
            "from fct_ledger_entries where recorded_at <= cast(? as date) order by entry_id",
            [recorded_by],
        ).fetchall()
    finally:
        con.close()
    assert rows
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def deliveries(example: Path, rng: random.Random) -> list[tuple[str, bytes]]:
    """The example landing as (relative path, content) deliveries: tracking files cut into files
    of two rows (header repeated), shuffled, a tenth delivered twice under another name, and the
    Stripe files (fixed names) at random points."""
    landing = example / "landing"
    parts: list[tuple[str, bytes]] = []
    for path in sorted((landing / "tracking").rglob("*.csv")):
        lines = path.read_bytes().splitlines(keepends=True)
        header, rows = lines[0], lines[1:]
        for index in range(0, len(rows), 2):
            name = f"{path.stem}-part{index // 2:03d}.csv"
            parts.append(
                (
                    f"{path.parent.relative_to(landing)}/{name}",
                    header + b"".join(rows[index : index + 2]),
                )
            )
    rng.shuffle(parts)
    for rel, content in rng.sample(parts, max(1, len(parts) // 10)):
        folder, name = rel.rsplit("/", 1)
        parts.insert(rng.randrange(len(parts) + 1), (f"{folder}/again-{name}", content))
    for path in sorted((landing / "stripe").glob("*.jsonl")):
        parts.insert(
            rng.randrange(len(parts) + 1),
            (str(path.relative_to(landing)), path.read_bytes()),
        )
    return parts


def build_from(example: Path, root: Path, parts: list[tuple[str, bytes]], one_by_one: bool) -> str:
    landing = root / "landing"
    warehouse = root / "warehouse" / "ledger.duckdb"
    con = connect(warehouse)
    try:
        ensure_raw_schema(con)
        for rel, content in parts:
            target = landing / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            if one_by_one:
                ingest_landing(con, landing)
        if not one_by_one:
            ingest_landing(con, landing)
        load_rules(con, example / "rules")
    finally:
        con.close()
    dbt_build(warehouse, AS_OF, target_dir=root / "target", log_dir=root / "logs")
    return ledger_hash(warehouse)


def test_any_delivery_order_with_duplicates_gives_one_ledger(example: Path, tmp_path: Path) -> None:
    reference_parts = sorted(deliveries(example, random.Random(0)), key=lambda part: part[0])
    reference = build_from(example, tmp_path / "reference", reference_parts, one_by_one=False)
    hashes = set()
    for shuffle in range(SHUFFLES):
        parts = deliveries(example, random.Random(SEED * 1000 + shuffle))
        hashes.add(build_from(example, tmp_path / f"shuffle-{shuffle}", parts, one_by_one=True))
    assert hashes == {reference}


# --- SIGKILL at random moments -----------------------------------------------------------------


def _env(root: Path, example: Path, landing: Path | None = None) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env.update(
        {
            "PREFECT_API_URL": PREFECT_API_URL.value(),  # the session's server (prefect_harness)
            "PARTNER_LEDGER_LANDING": str(landing or example / "landing"),
            "PARTNER_LEDGER_RULES": str(example / "rules"),
            "PARTNER_LEDGER_WAREHOUSE": str(root / "warehouse" / "ledger.duckdb"),
            "PARTNER_LEDGER_OUT": str(root / "out"),
            "HOME": str(root),
        }
    )
    return env


def _run(
    root: Path, example: Path, night: str, landing: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), "run", "--as-of", night],
        env=_env(root, example, landing),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_killed_at_any_moment_is_completed_by_the_next(
    example_three_nights: Path, example: Path, tmp_path: Path
) -> None:
    """The first night (it closes March) is killed at a random moment, then run again: the
    result must be the uninterrupted run's (the session's example run, whose later nights only
    appended to the ledger)."""
    night = "2025-04-01"
    reference_ledger = ledger_hash(
        example_three_nights / "warehouse" / "example.duckdb", recorded_by=night
    )
    reference_march = digest_tree(
        example_three_nights / "out" / "payouts" / "prog_lumen" / "2025-03"
    )
    rng = random.Random(SEED)
    full = 40.0  # seconds a run takes here; measured again by each completing run
    outcomes = []
    for kill in range(KILLS):
        root = tmp_path / f"killed-{kill}"
        delay = rng.uniform(0.0, full)
        proc = subprocess.Popen(
            [str(BIN), "run", "--as-of", night],
            env=_env(root, example),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the kill takes its children too
        )
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # the whole run dies at once, as in a power cut
        proc.wait(timeout=60)
        started = time.monotonic()
        again = _run(root, example, night)
        full = time.monotonic() - started
        outcomes.append((round(delay, 1), proc.returncode, round(full, 1)))
        assert again.returncode == 0, (outcomes, again.stderr[-3000:])
        program = root / "out" / "payouts" / "prog_lumen"
        assert [p.name for p in program.iterdir()] == ["2025-03"], outcomes  # nothing partial
        assert digest_tree(program / "2025-03") == reference_march, outcomes
        assert ledger_hash(root / "warehouse" / "ledger.duckdb") == reference_ledger, outcomes
    assert len(outcomes) == KILLS


def _wait_for_writes(log: Path, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    """Until the run's working copy has a write-ahead log with something in it."""
    deadline = time.monotonic() + timeout
    while not (log.exists() and log.stat().st_size > 0):
        assert proc.poll() is None, "the run ended before it wrote to its working copy"
        assert time.monotonic() < deadline, "the run wrote nothing to its working copy"
        time.sleep(0.05)


@pytest.mark.usefixtures("prefect_harness")
def test_a_night_killed_with_its_log_half_written_leaves_the_warehouse_as_it_was(
    example_three_nights: Path, example: Path, tmp_path: Path
) -> None:
    """The second night (it closes April) works on a second name of the committed warehouse,
    its writes held in their own log (docs/decisions/0027). It has a late delivery to load.
    Killed at a random moment after its first write, it must leave every table of the warehouse
    as it was; the next run completes the night as the uninterrupted one did."""
    from partner_ledger.io.warehouse import wal_path
    from partner_ledger.settle.night import working_copy_path
    from tests.conftest import warehouse_differences

    first, second = "2025-04-01", "2025-05-01"
    reference_ledger = ledger_hash(
        example_three_nights / "warehouse" / "example.duckdb", recorded_by=second
    )
    reference_april = digest_tree(
        example_three_nights / "out" / "payouts" / "prog_lumen" / "2025-04"
    )
    rng = random.Random(SEED + 1)
    outcomes = []
    for kill in range(KILLS):
        root = tmp_path / f"killed-{kill}"
        landing = root / "landing"
        shutil.copytree(example / "landing", landing)
        started = time.monotonic()
        assert _run(root, example, first, landing).returncode == 0
        full = time.monotonic() - started
        warehouse = root / "warehouse" / "ledger.duckdb"
        before = root / "before" / "ledger.duckdb"
        before.parent.mkdir()
        before.write_bytes(warehouse.read_bytes())
        # a late delivery, so that ingest writes too (a click of June: not visible in May)
        (landing / "tracking" / "clicks" / "late.csv").write_text(
            "click_id,program_id,partner_code,occurred_at,visitor_id,landing_url\n"
            "clk_late,prog_lumen,mira,2025-06-10T10:00:00Z,v_late,https://ex.example/?aff=mira\n"
        )
        proc = subprocess.Popen(
            [str(BIN), "run", "--as-of", second],
            env=_env(root, example, landing),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        work = working_copy_path(warehouse)
        _wait_for_writes(wal_path(work), proc)
        delay = rng.uniform(0.0, full / 2)  # within the build and the audit, before the commit
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        outcomes.append((round(delay, 1), proc.returncode, round(full, 1)))
        assert work.exists(), ("the run had committed before its kill", outcomes)
        assert warehouse_differences(before, warehouse, 30, schemas=None) == {}, outcomes
        again = _run(root, example, second, landing)
        assert again.returncode == 0, (outcomes, again.stderr[-3000:])
        program = root / "out" / "payouts" / "prog_lumen"
        assert sorted(p.name for p in program.iterdir()) == ["2025-03", "2025-04"], outcomes
        assert digest_tree(program / "2025-04") == reference_april, outcomes
        assert ledger_hash(warehouse) == reference_ledger, outcomes
        assert not work.exists() and not wal_path(work).exists()
    assert len(outcomes) == KILLS
