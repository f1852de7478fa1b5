"""Crash and delivery-order properties of a night (issue 16).

- Delivery order: the worked example's tracking files are cut into small files delivered one at
  a time in a random order, a tenth of them delivered twice under another name, the Stripe
  files at random points; every order gives the ledger of the landing delivered at once.
- SIGKILL: `partner-ledger run` is killed at a random moment (start-up, ingest, dbt build,
  audit, stage, commit, publish); the next run completes, leaves no partial payout folder, and
  the ledger and the folder equal those of an uninterrupted run. The runs use the session's
  Prefect server (as a scheduled night uses `prefect server start`), so the moments fall on the
  run's own work instead of half of them on a temporary server's start.

Both are marked `long`: CI runs them at the counts below (environment variables), and the full
counts are noted in docs/decisions/0015-hostile-input-and-bounds.md.
"""

from __future__ import annotations

import hashlib
import os
import random
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


def digest_tree(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


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


def _env(root: Path, example: Path) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env.update(
        {
            "PREFECT_API_URL": PREFECT_API_URL.value(),  # the session's server (prefect_harness)
            "PARTNER_LEDGER_LANDING": str(example / "landing"),
            "PARTNER_LEDGER_RULES": str(example / "rules"),
            "PARTNER_LEDGER_WAREHOUSE": str(root / "warehouse" / "ledger.duckdb"),
            "PARTNER_LEDGER_OUT": str(root / "out"),
            "HOME": str(root),
        }
    )
    return env


def _run(root: Path, example: Path, night: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), "run", "--as-of", night],
        env=_env(root, example),
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
