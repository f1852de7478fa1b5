"""`partner-ledger demo`: a generated program, replayed night by night on the embedded defaults.

The demo folder's landing files, warehouse and payout files are rebuilt from scratch on every
call, so the summary always describes one deterministic year (Prefect's state, in
`<dir>/prefect` by default, is kept: the runs of earlier demos stay in its history).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from prefect import flow

from flows.nightly import nightly_settlement
from partner_ledger.config import DEFAULTS
from partner_ledger.demo import generate_demo_landing
from partner_ledger.demo.replay import demo_summary, replay_nights


@flow(name="demo")
def demo_flow(
    directory: Path = Path("demo_output"),
    scale: int = 1,
    seed: int = 20250101,
    nights: str = "quarterly",
) -> dict:
    """Generate a demo landing directory and replay its year of nights.

    The default replays the first night of each quarter: each of those runs closes the three
    months before it (every month still gets its batch). `monthly` runs every close night.
    """
    started = time.monotonic()
    for generated in ("landing", "warehouse", "out"):
        if (directory / generated).exists():
            shutil.rmtree(directory / generated)
    landing = directory / "landing"
    stats = generate_demo_landing(landing, seed=seed, scale=scale)
    warehouse = directory / "warehouse" / "partner_ledger.duckdb"
    out = directory / "out"
    dates = replay_nights(stats.first_day, stats.last_day, nights)
    for night in dates:
        nightly_settlement(
            as_of=night,
            landing=landing,
            rules=DEFAULTS["rules"],
            warehouse=warehouse,
            out=out,
            scenario="demo",
        )
    text = demo_summary(warehouse, out, time.monotonic() - started, len(dates))
    return {"text": text, "nights": [night.isoformat() for night in dates]}
