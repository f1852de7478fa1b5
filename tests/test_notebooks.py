"""The notebooks run end to end against the replayed demo warehouse, and dbt docs generate.

Each notebook (a jupytext percent file) is converted to a notebook in memory, its `parameters`
cell replaced papermill-style, and executed with nbclient on the `python3` kernel of this
environment. Every notebook ends with a readable summary table of its sections; the test appends
one cell that prints the same `summary` as JSON, parses it and checks that the numbers are
meaningful and agree with the warehouse, and that every chart was drawn as an image (SVG with
marks, rendered in the kernel without network).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import jupytext
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
NOTEBOOK_NAMES = ["program_performance", "backtest_tier_rule", "payout_review"]


def _warehouse(directory: Path) -> Path:
    return directory / "warehouse" / "partner_ledger.duckdb"


def _parameter_names(notebook: nbformat.NotebookNode) -> set[str]:
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    return {
        target.id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def run_notebook(name: str, parameters: dict, env: dict[str, str] | None = None) -> dict:
    """Execute notebooks/<name>.py with `parameters`; return its `summary`, printed as JSON by a
    cell the test appends after the notebook's own last cell (a readable table)."""
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    unknown = set(parameters) - _parameter_names(notebook)
    assert not unknown, f"{name}: not parameters of the notebook: {sorted(unknown)}"
    # papermill-style: the values go into a cell right after the parameters cell (defaults kept)
    index = next(
        i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])
    )
    injected = nbformat.v4.new_code_cell(
        "\n".join(f"{key} = {value!r}" for key, value in parameters.items()),
        metadata={"tags": ["injected-parameters"]},
    )
    notebook.cells.insert(index + 1, injected)
    notebook.cells.append(
        nbformat.v4.new_code_cell("import json\nprint(json.dumps(summary, default=str))")
    )
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(REPO)}},
    )
    client.execute(env=env if env is not None else dict(os.environ))
    # the notebook's own last cell shows a table, not a JSON dump
    last = notebook.cells[-2]
    assert last.source.strip() == "summary_table(summary)", last.source
    assert any("text/html" in output.get("data", {}) for output in last.outputs), last.outputs
    # every chart cell shows an SVG drawn in the kernel: nothing for a browser to fetch
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            bundle = output.get("data", {})
            assert "application/vnd.vegalite.v5+json" not in bundle or "image/svg+xml" in bundle
            assert "cdn.jsdelivr" not in str(bundle.get("text/html", ""))
    printed = "".join(
        output.get("text", "")
        for output in notebook.cells[-1].get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    )
    return json.loads(printed.strip().splitlines()[-1])


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _landing_before(source: Path, target: Path, cutoff: date) -> Path:
    """A copy of a landing folder without the click files of months from `cutoff` on and the
    Stripe objects dated from `cutoff` on: nights before `cutoff` see the same records, and
    ingest them in a fraction of the time."""
    month = cutoff.strftime("%Y-%m")

    def later_clicks(folder: str, names: list[str]) -> list[str]:
        if Path(folder).name != "clicks":
            return []
        return [name for name in names if re.match(r"\d{4}-\d{2}", name) and name[:7] >= month]

    shutil.copytree(source, target, ignore=later_clicks)
    cutoff_epoch = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC).timestamp()
    for path in (target / "stripe").glob("*.jsonl"):
        kept = []
        for line in path.read_text().splitlines(keepends=True):
            try:
                record = json.loads(line)
                transitions = record.get("status_transitions") or {}
                stamp = transitions.get("paid_at") or record.get("created")
            except (ValueError, AttributeError):
                stamp = None  # a broken line: kept, it is quarantined either way
            if not isinstance(stamp, int) or stamp < cutoff_epoch:
                kept.append(line)
        path.write_text("".join(kept))
    return target


def test_kernel_is_this_environment() -> None:
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in {"python", "python3", sys.executable}, spec.argv
    assert Path(spec.resource_dir).is_relative_to(sys.prefix) or "ipykernel" in spec.resource_dir


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_shape(name: str) -> None:
    """First code cell: the parameters; every DuckDB connection read-only; no outputs kept."""
    source = (NOTEBOOKS / f"{name}.py").read_text()
    notebook = jupytext.reads(source, fmt="py:percent")
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells[0].metadata.get("tags") == ["parameters"]
    assert {"warehouse", "program_id", "period"} <= _parameter_names(notebook)
    connects = re.findall(r"duckdb\.connect\(([^\n]*)", source)
    assert all("read_only=True" in call for call in connects), connects
    assert "open_warehouse(warehouse)" in source  # partner_ledger.analysis: read-only
    assert all(not cell.get("outputs") for cell in code_cells)


def test_open_warehouse_is_read_only(tmp_path: Path) -> None:
    import duckdb
    import pytest as _pytest

    from partner_ledger.analysis import open_warehouse

    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).execute("create table t (x int)").close()
    con = open_warehouse(path)
    with _pytest.raises(duckdb.Error):
        con.execute("insert into t values (1)")


def test_program_performance(demo_replayed, tmp_path: Path) -> None:
    directory, _ = demo_replayed
    warehouse = _warehouse(directory)
    charts = tmp_path / "charts"
    summary = run_notebook(
        "program_performance",
        {
            "warehouse": str(warehouse),
            "program_id": "prog_eur",
            "period": "2025-12",
            "top_n": 10,
            "output_dir": str(charts),
        },
    )

    funnel = summary["funnel"]
    assert funnel["clicks"] >= funnel["clicks_to_known_partners"] > 0
    assert funnel["signups"] >= funnel["attributed_signups"] > 0
    assert funnel["paying_customers"] >= funnel["attributed_paying_customers"] > 0
    assert funnel["epc"] > 0
    sources = {row["source"] for row in summary["funnel_by_source"]}
    assert {"click", "lead_form", "coupon", "unattributed"} <= sources

    revenue = summary["revenue"]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        commission, clawback, referral = con.execute(
            """
            select
                sum(amount_cents) filter (where entry_type = 'commission'),
                sum(amount_cents) filter (where entry_type in ('clawback', 'referral_clawback')),
                sum(amount_cents) filter (where entry_type = 'referral_commission')
            from fct_ledger_entries
            where program_id = 'prog_eur' and earned_at < '2026-01-01'
            """
        ).fetchone()
        tiers = {
            tier
            for (tier,) in con.execute(
                "select distinct tier from fct_partner_tiers_monthly"
            ).fetchall()
        }
    finally:
        con.close()
    assert (
        revenue["commission_cents"]
        == revenue["commission_by_month_cents"]
        == revenue["commission_by_tier_cents"]
        == revenue["commission_by_phase_cents"]
        == commission
        > 0
    )
    assert (
        revenue["revenue_by_tier_cents"]
        == revenue["revenue_by_phase_cents"]
        == revenue["attributed_revenue_cents"]
    )
    assert 0 < revenue["commissioned_revenue_cents"] <= revenue["attributed_revenue_cents"]
    assert revenue["attributed_revenue_cents"] < revenue["revenue_cents"]
    assert revenue["foreign_currency_events"] > 0  # converted, not summed in their own currency
    assert set(revenue["tiers"]) - {"(no commission)"} <= tiers
    assert revenue["months"] == [f"2025-{month:02d}" for month in range(1, 13)]

    clawbacks = summary["clawbacks"]
    assert clawbacks["commission_cents"] == commission + referral
    assert clawbacks["clawback_cents"] == clawback < 0
    assert 0 < clawbacks["clawback_rate"] < 0.5

    top = summary["top_partners"]
    assert len(top) == 10
    assert [row["earnings_cents"] for row in top] == sorted(
        (row["earnings_cents"] for row in top), reverse=True
    )
    cohorts = summary["cohorts"]
    assert cohorts["cohorts"] == 12
    assert cohorts["customers"] == funnel["attributed_paying_customers"]
    assert cohorts["commission_cents"] == commission
    assert cohorts["max_month_number"] == 12
    assert summary["charts"] and all(summary["charts"].values())
    assert {path.name for path in charts.glob("*.svg")} == {
        f"program_performance_{name}.svg" for name in summary["charts"]
    }
    for path in charts.glob("*.svg"):
        svg = path.read_text()
        assert svg.startswith("<svg") and 'role="graphics-symbol"' in svg, path.name


@pytest.mark.parametrize(
    ("program_id", "period"), [("prog_eur", "2025-06"), ("prog_usd", "2025-12")]
)
def test_payout_review(demo_replayed, program_id: str, period: str) -> None:
    directory, _ = demo_replayed
    summary = run_notebook(
        "payout_review",
        {
            "warehouse": str(_warehouse(directory)),
            "program_id": program_id,
            "period": period,
            "out_dir": str(directory / "out"),
            "top_n": 5,
        },
    )

    batch = summary["batch"]
    assert batch["batch_id"] == f"{program_id}-{period}"
    assert batch["row_count"] > 0 and batch["total_cents"] > 0
    reconciliation = summary["reconciliation"]
    assert reconciliation["totals_agree"] and reconciliation["statements_hold"], reconciliation
    assert (
        reconciliation["lines_total_cents"]
        == reconciliation["payout_entries_total_cents"]
        == batch["total_cents"]
    )
    assert reconciliation["statement_identity_breaks"] == 0
    assert reconciliation["opening_not_previous_closing"] == 0
    assert (
        sum(row["carried_cents"] for row in summary["carried_by_reason"]) == batch["carried_cents"]
    )
    assert sum(row["amount_cents"] for row in summary["lines_by_method"]) == batch["total_cents"]

    trace = summary["trace"]
    assert trace["lookup_matches_statements"]
    assert len(trace["lines"]) == min(5, batch["row_count"])
    assert all(line["explained"] for line in trace["lines"]), trace["lines"]
    assert trace["entries_traced"] > 0
    assert trace["entries_without_winning_touch"] == 0
    assert trace["entries_touch_differs_from_winner"] == 0

    files = summary["files"]
    assert files["all_match"], files
    assert ("sepa.xml" in files["files"]) == (program_id == "prog_eur")
    assert all(summary["charts"].values())


def test_backtest_tier_rule(prefect_harness, demo_replayed, tmp_path: Path) -> None:
    """A lower silver threshold over two nights: promotions, a higher cost, nothing real touched."""
    from prefect.settings import PREFECT_API_URL

    directory, _ = demo_replayed
    warehouse = _warehouse(directory)
    landing = _landing_before(directory / "landing", tmp_path / "landing", date(2025, 3, 1))
    before = {
        "warehouse": hashlib.sha256(warehouse.read_bytes()).hexdigest(),
        "out": _tree_digest(directory / "out"),
        "seeds": _tree_digest(REPO / "seeds"),
    }
    report = tmp_path / "report"
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}

    summary = run_notebook(
        "backtest_tier_rule",
        {
            "warehouse": str(warehouse),
            "program_id": "prog_eur",
            "period": "2025-02",
            "rules": "seeds",
            "landing": str(landing),
            "out": str(directory / "out"),
            "report_dir": str(report),
            "date_from": "2025-02-01",
            "date_to": "2025-03-01",
            "nights": "monthly",
            "tier": "silver",
            "min_customers": 2,
            "min_revenue_cents": 20000,
        },
        env=env,
    )

    assert summary["nights"] == ["2025-02-01", "2025-03-01"]
    threshold = summary["threshold"]
    assert threshold["baseline"]["min_customers"] == "5"
    assert threshold["candidate"] == {
        **threshold["baseline"],
        "min_customers": "2",
        "min_revenue_cents": "20000",
    }
    result = summary["report"]
    assert result["partners_changing_tier"] > 0
    assert {row["move"] for row in result["moves"]} == {"standard → silver"}
    assert result["difference_cents"] == result["candidate_cents"] - result["baseline_cents"] > 0
    assert result["by_month_baseline_cents"] == result["baseline_cents"]
    assert (
        result["by_month_candidate_cents"]
        == result["candidate_cents"]
        == result["by_tier_candidate_cents"]
    )
    assert 0 < result["partners_cost_changed"] <= result["partners_changing_tier"]
    assert "partners changing tier" in summary["headline"]
    assert (report / "tier_changes.csv").exists() and (report / "by_month.parquet").exists()
    assert all(summary["charts"].values())
    after = {
        "warehouse": hashlib.sha256(warehouse.read_bytes()).hexdigest(),
        "out": _tree_digest(directory / "out"),
        "seeds": _tree_digest(REPO / "seeds"),
    }
    assert after == before  # the real warehouse, payout files and rules are never written


def test_dbt_docs_generate(demo_replayed, tmp_path: Path, monkeypatch) -> None:
    from dbt.cli.main import dbtRunner

    from partner_ledger.settle.dbt import _release_duckdb

    directory, _ = demo_replayed
    copy = tmp_path / "docs" / "partner_ledger.duckdb"
    copy.parent.mkdir()
    shutil.copyfile(_warehouse(directory), copy)
    target = tmp_path / "target"
    monkeypatch.setenv("PARTNER_LEDGER_WAREHOUSE", str(copy))
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    try:
        result = dbtRunner().invoke(
            [
                "docs",
                "generate",
                "--project-dir",
                str(REPO),
                "--profiles-dir",
                str(REPO),
                "--vars",
                "{as_of: 2026-01-01}",
                "--log-path",
                str(tmp_path / "logs"),
                "--quiet",
            ]
        )
    finally:
        _release_duckdb()
    assert result.success, result.exception
    catalog = json.loads((target / "catalog.json").read_text())
    names = {node["metadata"]["name"] for node in catalog["nodes"].values()}
    assert "fct_ledger_entries" in names
    manifest = json.loads((target / "manifest.json").read_text())
    exposures = {exposure["name"]: exposure for exposure in manifest["exposures"].values()}
    for name in NOTEBOOK_NAMES:
        exposure = exposures[name]
        assert exposure["url"] == f"notebooks/{name}.py"
        assert (REPO / exposure["url"]).exists()
        assert exposure["depends_on"]["nodes"]
    assert "payout_files" in exposures
