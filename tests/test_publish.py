"""Payout folders (SPEC §2.9, §3.2) from a warehouse built by real nightly flow runs.

The worked example is run for the nights 2025-04-01, 2025-05-01 and 2025-06-01 (enough to close
March, April and May, see its README). Then: publishing is killed with SIGKILL at many points and
every batch folder must still be absent or complete; a closed period is never rewritten; folders
and files are private; payouts.parquet mirrors payouts.csv; sepa.xml is a valid pain.001.001.03
holding exactly the sepa lines.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from partner_ledger.io.warehouse import connect
from partner_ledger.publish.contract import contract_columns
from partner_ledger.publish.payout_files import PAYOUT_COLUMNS, STATEMENT_COLUMNS, publish_missing
from tests.conftest import digest_tree

REPO = Path(__file__).resolve().parent.parent
NIGHTS = ("2025-04-01", "2025-05-01", "2025-06-01")
PERIODS = ("2025-03", "2025-04", "2025-05")
PROGRAM = "prog_lumen"
PAIN = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
NS = {"p": PAIN}


@pytest.fixture(scope="module")
def built(example_three_nights: Path) -> Path:
    return example_three_nights


@pytest.fixture(scope="module")
def payouts(built: Path) -> Path:
    return built / "out" / "payouts" / PROGRAM


def copy_warehouse(built: Path, dest: Path) -> Path:
    """A copy keeps the file name: dbt's views refer to the catalog named after it."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "example.duckdb"
    shutil.copyfile(built / "warehouse" / "example.duckdb", target)
    return target


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_three_closed_periods_are_published(payouts: Path) -> None:
    assert sorted(p.name for p in payouts.iterdir()) == list(PERIODS)


# --- (a) SIGKILL during publish -------------------------------------------------------------------

# The subprocess imports what publishing imports lazily (pandas through DuckDB, sepaxml and
# lxml) and reads the batch list before it says "ready", so that the kill delays fall in
# the publish work itself (render, write, fsync, rename) rather than in module loading.
PUBLISH_SCRIPT = r"""
import sys, time
from pathlib import Path
import pandas, sepaxml, lxml.etree
from partner_ledger.publish.payout_files import closed_batches, publish_missing
from partner_ledger.io.warehouse import connect
con = connect(Path(sys.argv[1]), read_only=True)
closed_batches(con)
sys.stdout.write("ready\n")
sys.stdout.flush()
start = time.perf_counter()
published = publish_missing(con, Path(sys.argv[2]))
sys.stdout.write(f"done {time.perf_counter() - start:.6f} {len(published)}\n")
sys.stdout.flush()
"""


def start_publish(warehouse: Path, out: Path, pycache: Path) -> subprocess.Popen:
    # bytecode is cached under tmp (the environment disables .pyc writing) to start quickly
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISH_SCRIPT, str(warehouse), str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"publish subprocess did not start: {line!r} {err[-2000:]}")
    return proc


def assert_absent_or_complete(program_folder: Path, reference: Path) -> set[str]:
    """Every period folder is absent or complete and equal to the reference; returns the
    periods present. Only hidden temporary folders may be there besides them."""
    present = set()
    if not program_folder.exists():
        return present
    for entry in program_folder.iterdir():
        if entry.name.startswith(".tmp-"):
            continue
        assert entry.name in PERIODS, f"unexpected entry {entry}"
        manifest_path = entry / "manifest.json"
        assert manifest_path.is_file(), f"{entry} exists without its manifest"
        manifest = json.loads(manifest_path.read_text())
        names = set(manifest["files"])
        spec_files = {"payouts.csv", "payouts.parquet", "statements.csv"}
        assert spec_files <= names
        # the optional SPEC file and issue 14's additions: rails and one statement per partner
        assert all(
            name in {"sepa.xml", "paypal_payouts.csv", "wise_batch.csv"}
            or (name.startswith("statement-") and name.endswith(".html"))
            for name in names - spec_files
        )
        assert {p.name for p in entry.iterdir()} == set(manifest["files"]) | {"manifest.json"}
        for name, digest in manifest["files"].items():
            actual = hashlib.sha256((entry / name).read_bytes()).hexdigest()
            assert actual == digest, f"{entry / name}: sha256 differs from the manifest"
        assert digest_tree(entry) == digest_tree(reference / entry.name)
        present.add(entry.name)
    return present


def test_sigkill_during_publish_leaves_folders_absent_or_complete(
    built: Path, tmp_path: Path
) -> None:
    warehouse = copy_warehouse(built, tmp_path / "warehouse")
    reference_out = tmp_path / "clean"
    pycache = tmp_path / "pycache"
    con = connect(warehouse, read_only=True)
    try:
        assert [b.batch_id for b in publish_missing(con, reference_out)] == [
            f"{PROGRAM}-{period}" for period in PERIODS
        ]
        reference = reference_out / "payouts" / PROGRAM
        assert digest_tree(reference) == digest_tree(built / "out" / "payouts" / PROGRAM)

        # how long a full publish takes in a fresh process, once started
        timings = []
        for attempt in range(3):
            proc = start_publish(warehouse, tmp_path / f"timing-{attempt}", pycache)
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
            timings.append(float(out.split()[1]))
        full = sorted(timings)[1]  # the median: the first run also fills the bytecode cache

        rng = random.Random(20250601)
        kills = 20
        outcomes = []
        for i in range(kills):
            # spread over the publish's duration; a publish that finished before its kill shows
            # the machine got faster than when it was timed (load changes), so later kills
            # aim within what it took
            delay = full * (i + rng.random()) / kills
            out = tmp_path / f"killed-{i:02d}"
            proc = start_publish(warehouse, out, pycache)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            if proc.returncode == 0 and i < kills - 1:
                full = min(full, delay)
            folder = out / "payouts" / PROGRAM
            present = assert_absent_or_complete(folder, reference)
            leftovers = sorted(p.name for p in folder.glob(".tmp-*")) if folder.exists() else []
            outcomes.append((round(delay, 4), proc.returncode, sorted(present), leftovers))

            # a normal publish then completes every folder, byte-identical to a clean one
            redone = publish_missing(con, out)
            assert sorted(b.folder.name for b in redone) == sorted(set(PERIODS) - present)
            assert digest_tree(out / "payouts") == digest_tree(reference_out / "payouts")
            assert list(folder.glob(".tmp-*")) == []
    finally:
        con.close()

    killed_midway = [o for o in outcomes if o[1] == -signal.SIGKILL and len(o[2]) < len(PERIODS)]
    assert len(killed_midway) >= 5, (full, outcomes)
    assert any(o[2] == [] for o in outcomes) and any(o[3] for o in outcomes), outcomes


# --- (b) a closed period is never rewritten ----------------------------------------------------


def test_a_closed_period_is_never_rewritten(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(built / "out" / "payouts", out / "payouts", copy_function=shutil.copy2)
    files = sorted(p for p in (out / "payouts").rglob("*") if p.is_file())
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    time.sleep(0.05)  # a rewrite would show in st_mtime_ns

    con = connect(built / "warehouse" / "example.duckdb", read_only=True)
    try:
        assert publish_missing(con, out) == []
    finally:
        con.close()
    # even a warehouse whose lines differ for those periods does not touch them
    changed = copy_warehouse(built, tmp_path / "changed")
    con = connect(changed)
    try:
        con.execute("update fct_payout_lines set amount_cents = amount_cents + 100")
        con.execute("update fct_payout_batches set total_cents = total_cents + 100")
        assert publish_missing(con, out) == []
    finally:
        con.close()

    after = sorted(p for p in (out / "payouts").rglob("*") if p.is_file())
    assert after == files
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in after} == before


# --- (c) permissions ---------------------------------------------------------------------------


def test_payout_folders_are_0700_and_files_0600(built: Path, payouts: Path) -> None:
    folders = [built / "out" / "payouts", payouts] + [payouts / period for period in PERIODS]
    for folder in folders:
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    files = [p for period in PERIODS for p in (payouts / period).iterdir()]
    assert len(files) >= 4 * len(PERIODS)
    for path in files:
        assert path.is_file() and path.stat().st_mode & 0o777 == 0o600, path


# --- (d) parquet mirrors csv -------------------------------------------------------------------


def test_the_columns_are_the_enforced_contracts_and_spec() -> None:
    """The files' columns come from the export models' enforced contracts, which are SPEC §3.2's
    lists (written out here so that the test does not trust the module under test)."""
    import yaml

    assert PAYOUT_COLUMNS == [
        "batch_id",
        "partner_id",
        "partner_name",
        "partner_email",
        "payout_method",
        "payout_account",
        "amount",
        "amount_cents",
        "currency",
    ]
    assert STATEMENT_COLUMNS == [
        "partner_id",
        "opening_balance_cents",
        "commission_cents",
        "referral_commission_cents",
        "clawback_cents",
        "adjustment_cents",
        "payout_cents",
        "closing_balance_cents",
        "held_cents",
        "carried_reason",
    ]
    assert contract_columns("exp_statements")[0] == "batch_id"
    enforced = {
        node["name"]
        for path in (REPO / "models").rglob("*.yml")
        for node in (yaml.safe_load(path.read_text()) or {}).get("models") or []
        if ((node.get("config") or {}).get("contract") or {}).get("enforced")
    }
    assert {"exp_payouts", "exp_statements"} <= enforced


@pytest.mark.parametrize("period", PERIODS)
def test_parquet_has_the_rows_and_columns_of_the_csv(payouts: Path, period: str) -> None:
    rows = read_csv(payouts / period / "payouts.csv")
    table = pq.read_table(payouts / period / "payouts.parquet")
    assert table.column_names == PAYOUT_COLUMNS
    with (payouts / period / "payouts.csv").open(newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == PAYOUT_COLUMNS
    assert table.schema.field("amount_cents").type == pa.int64()
    for name in PAYOUT_COLUMNS:
        if name != "amount_cents":
            assert table.schema.field(name).type == pa.string(), name
    expected = [{k: (int(v) if k == "amount_cents" else v) for k, v in row.items()} for row in rows]
    actual = [{k: ("" if v is None else v) for k, v in row.items()} for row in table.to_pylist()]
    assert actual == expected
    assert len(actual) == 2
    for row in actual:
        assert Decimal(row["amount"]) * 100 == row["amount_cents"]


# --- (e) sepa.xml ------------------------------------------------------------------------------


def pain_xsd() -> Path:
    import sepaxml

    path = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
    assert path.is_file(), path
    return path


@pytest.mark.parametrize("period", PERIODS)
def test_sepa_xml_is_valid_pain001_with_exactly_the_sepa_lines(
    payouts: Path, example: Path, period: str
) -> None:
    import xmlschema

    folder = payouts / period
    sepa = folder / "sepa.xml"
    schema = xmlschema.XMLSchema(str(pain_xsd()))
    schema.validate(str(sepa))  # raises with the reason when invalid

    lines = [row for row in read_csv(folder / "payouts.csv") if row["payout_method"] == "sepa"]
    assert lines, "the example pays Mira by sepa every month"
    root = ET.parse(sepa).getroot()
    transactions = root.findall(".//p:CdtTrfTxInf", NS)
    got = sorted(
        (
            tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS),
            Decimal(tx.findtext("p:Amt/p:InstdAmt", namespaces=NS)),
            tx.find("p:Amt/p:InstdAmt", NS).get("Ccy"),
            tx.findtext("p:Cdtr/p:Nm", namespaces=NS),
        )
        for tx in transactions
    )
    want = sorted(
        (
            row["payout_account"].replace(" ", "").upper(),
            Decimal(row["amount"]),
            row["currency"],
            row["partner_name"],
        )
        for row in lines
    )
    assert got == want
    total = sum(Decimal(row["amount"]) for row in lines)
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == str(len(lines))
    assert Decimal(root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS)) == total

    program = read_csv(example / "rules" / "programs.csv")[0]
    assert root.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == program["debtor_iban"]
    assert root.findtext(".//p:DbtrAgt/p:FinInstnId/p:BIC", namespaces=NS) == program["debtor_bic"]
    text = sepa.read_text(encoding="utf-8")
    for row in read_csv(folder / "payouts.csv"):
        if row["payout_method"] != "sepa":
            assert row["payout_account"] not in text and row["partner_id"] not in text


def test_a_sepa_file_the_schema_refuses_names_the_element_not_its_value(payouts: Path) -> None:
    """Each sepa.xml is checked against pain.001.001.03 before its batch is staged
    (payout_files.validate_pain001, libxml2): a file the schema refuses raises SepaInvalid naming
    the element and the rule it breaks, never the value (an IBAN or a name must not reach a
    log); a file that is not XML at all is refused too."""
    from partner_ledger.publish import payout_files

    content = (payouts / PERIODS[0] / "sepa.xml").read_bytes()
    payout_files.validate_pain001(content)  # the published file passes
    iban = ET.fromstring(content).findtext(".//p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:IBAN", namespaces=NS)
    broken = content.replace(f"<IBAN>{iban}</IBAN>".encode(), b"<IBAN>FR76 not an iban</IBAN>")
    assert broken != content
    with pytest.raises(payout_files.SepaInvalid) as refused:
        payout_files.validate_pain001(broken)
    message = str(refused.value)
    assert "Document/CstmrCdtTrfInitn/PmtInf/CdtTrfTxInf/CdtrAcct/Id/IBAN" in message, message
    assert "PATTERN" in message and "not an iban" not in message and iban not in message
    with pytest.raises(payout_files.SepaInvalid, match="not well-formed"):
        payout_files.validate_pain001(content[: len(content) // 2])


def test_manifest_matches_files_and_batch(payouts: Path) -> None:
    for period in PERIODS:
        folder = payouts / period
        manifest = json.loads((folder / "manifest.json").read_text())
        rows = read_csv(folder / "payouts.csv")
        assert manifest["batch_id"] == f"{PROGRAM}-{period}" and manifest["period"] == period
        assert manifest["program_id"] == PROGRAM and manifest["currency"] == "EUR"
        assert manifest["row_count"] == len(rows)
        assert manifest["total_cents"] == sum(int(row["amount_cents"]) for row in rows)
        for name, digest in manifest["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert os.listdir(payouts.parent) == [PROGRAM]


@pytest.mark.parametrize("parallel_from", [2, None], ids=["worker-processes", "forked-writers"])
def test_a_first_runs_batches_are_the_published_ones(
    built: Path,
    payouts: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parallel_from: int | None,
) -> None:
    """A first run stages the example's three batches in worker processes (PARALLEL_FROM
    lowered to 2) or, fewer than PARALLEL_FROM, in this process one after the other, the first
    two written by forked children while the next renders: either way the folders are byte for
    byte those the nights published, and owner-only."""
    from partner_ledger.publish import payout_files

    if parallel_from is None:
        assert len(PERIODS) < payout_files.PARALLEL_FROM and (os.cpu_count() or 1) >= 2
    else:
        monkeypatch.setattr(payout_files, "PARALLEL_FROM", parallel_from)
    warehouse = copy_warehouse(built, tmp_path / "warehouse")
    out = tmp_path / "out"
    con = connect(warehouse, read_only=True)
    try:
        staged = payout_files.stage_missing(con, out, warehouse=warehouse)
    finally:
        con.close()
    assert [item.batch.period for item in staged] == list(PERIODS)
    payout_files.place_staged(staged)
    assert digest_tree(out / "payouts" / PROGRAM) == digest_tree(payouts)
    written = [
        path for period in PERIODS for path in (out / "payouts" / PROGRAM / period).iterdir()
    ]
    assert written and all(path.stat().st_mode & 0o777 == 0o600 for path in written)


def test_a_batch_that_fails_side_by_side_leaves_no_staged_folder(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The middle batch cannot be written (a file where its temporary folder goes): the run
    stops on that batch's error and the folders the other workers staged are discarded."""
    from partner_ledger.publish import payout_files

    monkeypatch.setattr(payout_files, "PARALLEL_FROM", 2)
    warehouse = copy_warehouse(built, tmp_path / "warehouse")
    out = tmp_path / "out"
    program = out / "payouts" / PROGRAM
    program.mkdir(parents=True)
    (program / f"{payout_files.STAGE_PREFIX}2025-04").write_text("in the way")
    con = connect(warehouse, read_only=True)
    try:
        with pytest.raises(payout_files.PublishError, match="batch prog_lumen-2025-04"):
            payout_files.stage_missing(con, out, warehouse=warehouse)
    finally:
        con.close()
    assert sorted(path.name for path in program.iterdir()) == [
        f"{payout_files.STAGE_PREFIX}2025-04"
    ]


def test_a_forked_writer_that_fails_names_its_batch_and_its_reason(tmp_path: Path) -> None:
    """A child that cannot write its folder (here: the folder is gone) reports on its pipe; the
    first failing writer in batch order is the error, and the other child's files are whole."""
    from datetime import date

    from partner_ledger.publish import payout_files

    def batch(period: str) -> payout_files.Batch:
        return payout_files.Batch(
            f"{PROGRAM}-{period}",
            PROGRAM,
            period,
            date(2025, 6, 1),
            "EUR",
            1,
            100,
            None,
            None,
            None,
        )

    files = {"payouts.csv": b"partner_id\nolga\n", "statement-olga.html": b"<p>&amp;</p>\n"}
    whole = tmp_path / ".tmp-2025-03"
    whole.mkdir()
    gone = tmp_path / ".tmp-2025-04"  # never made
    writers = [
        payout_files._fork_writer(
            payout_files.StagedBatch(batch(period), folder, tmp_path / period, tuple(files)), files
        )
        for period, folder in (("2025-03", whole), ("2025-04", gone), ("2025-05", gone))
    ]
    failure = payout_files._finish_writers(writers)
    assert isinstance(failure, payout_files.PublishError)
    assert str(failure).startswith(
        f"the files of batch {PROGRAM}-2025-04 cannot be produced: FileNotFoundError: "
    )
    assert {path.name: path.read_bytes() for path in whole.iterdir()} == files
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in whole.iterdir())
    assert not gone.exists()


_POOL_PARENT = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from partner_ledger.publish import payout_files

pool = ProcessPoolExecutor(
    max_workers=2,
    mp_context=multiprocessing.get_context("spawn"),
    initializer=payout_files._open_worker,
    initargs=(sys.argv[1],),
)
for started in [pool.submit(time.sleep, 0.5) for _ in range(2)]:
    started.result()  # both workers are up and initialized
print(" ".join(str(pid) for pid in pool._processes), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_stage_workers_die_with_a_killed_run(built: Path, tmp_path: Path) -> None:
    """A run killed on its own (not its whole process group) while workers stage leaves no
    worker behind to write into a folder the next run stages again: the workers the staging
    initializer opened die with their parent."""
    warehouse = copy_warehouse(built, tmp_path / "warehouse")
    parent = subprocess.Popen(
        [sys.executable, "-c", _POOL_PARENT, str(warehouse)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
        parent.kill()  # SIGKILL to the parent alone: no cleanup of its pool runs
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), workers
    finally:
        try:  # the workers share the parent's process group: nothing outlives the test
            os.killpg(parent.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
