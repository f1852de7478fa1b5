"""`partner-ledger` command line (SPEC §3.3): run, backtest, demo, serve, approve, rebuild.

Every option also reads an environment variable (partner_ledger.config.ENV). Exit status: 0 success,
1 a run that failed (a check, Prefect unavailable: the message says which), 2 inputs refused
before anything started (options, landing directory, rules folder: one line per problem),
3 the warehouse is being written by another run.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from flows.service import serve_nightly
from partner_ledger.config import DEFAULTS, ENV, env_default, path_option, state_default
from partner_ledger.ops.lock import WarehouseBusy, writer_lock
from partner_ledger.ops.prefect_server import DEFAULT_PORT, cron_problem
from partner_ledger.ops.prefect_setup import explain_startup_failure, use_prefect, use_prefect_home
from partner_ledger.preflight import Checks, InputError

DEFAULT_CRON = "30 2 * * *"


def _secret_free(text: str) -> str:
    key = os.environ.get("STRIPE_API_KEY")
    return text.replace(key, "***") if key else text


NIGHTS = ["quarterly", "monthly", "semimonthly", "weekly", "daily"]


def _add_paths(parser: argparse.ArgumentParser, *names: str) -> None:
    helps = {
        "landing": "landing directory (SPEC §1.1)",
        "rules": "rules folder (SPEC §1.3); default: the project's seeds/",
        "warehouse": "DuckDB warehouse file",
        "out": "output folder for payout files and reports",
        "report": "folder for the backtest report",
        "state": "Prefect's state folder (its database, logs, results); default: prefect/ "
        "beside the warehouse",
    }
    for name in names:
        parser.add_argument(f"--{name}", help=f"{helps[name]} [env {ENV[name]}]")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="partner-ledger", description="Partner program settlement on DuckDB and dbt."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="one nightly settlement run")
    run.add_argument("--as-of", help=f"the run's as-of date D, YYYY-MM-DD [env {ENV['as_of']}]")
    _add_paths(run, "landing", "rules", "warehouse", "out", "state")

    rebuild = commands.add_parser(
        "rebuild",
        help="rebuild a lost warehouse from the landing and the published batch folders",
        description="Rebuilds a warehouse that is missing or cannot be opened, as the night "
        "--as-of: the published payout batches are restored as they were paid, the ledger is "
        "recomputed from the landing, and any difference settles at the next close "
        "(docs/decisions/0017). An unreadable warehouse file is moved aside, never deleted.",
    )
    rebuild.add_argument("--as-of", help=f"the rebuild's night, YYYY-MM-DD [env {ENV['as_of']}]")
    _add_paths(rebuild, "landing", "rules", "warehouse", "out", "state")

    backtest = commands.add_parser("backtest", help="replay history under other rules")
    backtest.add_argument("--from", dest="date_from", help=f"first night [env {ENV['date_from']}]")
    backtest.add_argument("--to", dest="date_to", help=f"last night [env {ENV['date_to']}]")
    _add_paths(backtest, "rules", "landing", "warehouse", "out", "report", "state")
    backtest.add_argument(
        "--baseline-rules", help="the rules to compare against (default: the project's seeds/)"
    )
    backtest.add_argument(
        "--nights",
        choices=NIGHTS,
        default="monthly",
        help="which nights to replay: --from, the cadence's nights between, and --to "
        "(monthly: the 1st of each month; semimonthly: the 1st and the 16th; quarterly: the 1st "
        "of January, April, July, October; weekly: every 7 days from --from; daily)",
    )

    demo = commands.add_parser("demo", help="generate a demo program and run it end to end")
    demo.add_argument("--dir", default="demo_output", help="where the demo writes everything")
    demo.add_argument("--scale", type=int, default=1, help="volume multiplier (benchmarks)")
    demo.add_argument("--seed", type=int, default=20250101)
    demo.add_argument("--state", help="Prefect's state folder; default: <dir>/prefect")
    demo.add_argument(
        "--nights",
        choices=NIGHTS,
        default="quarterly",
        help="which nights of the year to replay (quarterly: each run closes three months; "
        "monthly: every close night)",
    )

    approve = commands.add_parser(
        "approve",
        help="publish a batch held for review into its payment folder",
        description="A batch that tripped a threshold of review_rules.csv waits in "
        "<out>/payouts/<program>/review/<period>/; approve publishes it to its payment folder "
        "and records in the warehouse who approved it and when.",
    )
    approve.add_argument("batch_id", help="the held batch, e.g. prog_lumen-2025-05")
    approve.add_argument("--by", required=True, help="who approves (recorded in the warehouse)")
    _add_paths(approve, "warehouse", "out")

    serve = commands.add_parser(
        "serve",
        help="run the nightly settlement on a cron, as a service (a local Prefect server)",
        description="Starts a local Prefect server (its database in the state folder) unless "
        "PREFECT_API_URL names one, and runs the nightly settlement on the cron until Ctrl-C "
        "or SIGTERM. The Prefect UI shows the runs, their logs and artifacts.",
    )
    serve.add_argument(
        "--cron", help=f"cron schedule, UTC (default {DEFAULT_CRON!r}) [env {ENV['cron']}]"
    )
    serve.add_argument(
        "--port",
        help=f"port of the local Prefect server and UI (default {DEFAULT_PORT}) [env {ENV['port']}]",
    )
    _add_paths(serve, "landing", "rules", "warehouse", "out", "state")
    return parser


def _state(args: argparse.Namespace, default: Path) -> Path:
    return path_option("state", args.state) if (args.state or env_default("state")) else default


def _rules_option(checks: Checks, given: str | None) -> Path:
    rules = path_option("rules", given)
    checks.rules(rules)
    return rules


def _night(args: argparse.Namespace, flow_name: str) -> dict:
    """Check a night's options (run, rebuild) before Prefect starts, take the warehouse's writer
    lock (a second writer is refused here) and run the flow."""
    checks = Checks()
    as_of = checks.date(args.as_of, "as_of")
    landing = path_option("landing", args.landing)
    checks.landing(landing)
    rules = _rules_option(checks, args.rules)
    warehouse = path_option("warehouse", args.warehouse)
    checks.warehouse(warehouse)
    out = path_option("out", args.out)
    checks.done()
    with writer_lock(warehouse):
        use_prefect(_state(args, state_default(warehouse)))
        import flows.nightly

        return getattr(flows.nightly, flow_name)(
            as_of=as_of, landing=landing, rules=rules, warehouse=warehouse, out=out
        )


def cmd_run(args: argparse.Namespace) -> int:
    print(summary_line(_night(args, "nightly_settlement")))
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    print("rebuilt: " + summary_line(_night(args, "rebuild_warehouse")))
    return 0


def summary_line(summary: dict) -> str:
    stages = summary["seconds_by_stage"]
    seconds = ", ".join(f"{stage} {value:.1f}" for stage, value in stages.items())
    return (
        f"as of {summary['as_of']}: {summary['files_loaded']} file(s) loaded, "
        f"{summary['quarantined_tonight']} row(s) quarantined tonight "
        f"({summary['quarantined']} in quarantine), "
        f"{summary['ledger_entries_appended']} ledger entr(ies) appended, "
        f"batches closed: {', '.join(summary['batches_closed']) or 'none'}; "
        + (
            f"held for review: {', '.join(summary['batches_held'])}; "
            if summary.get("batches_held")
            else ""
        )
        + f"seconds: {seconds} (total {sum(stages.values()):.1f})"
    )


def cmd_backtest(args: argparse.Namespace) -> int:
    checks = Checks()
    candidate = args.rules or env_default("rules")
    if not candidate:
        checks.problems.append(f"--rules is required (or set {ENV['rules']})")
    else:
        checks.rules(Path(candidate))
    baseline = Path(args.baseline_rules) if args.baseline_rules else DEFAULTS["rules"]
    checks.rules(baseline, "--baseline-rules")
    date_from = checks.date(args.date_from, "date_from")
    date_to = checks.date(args.date_to, "date_to")
    if date_from and date_to and date_to < date_from:
        checks.problems.append(f"--to {date_to} is before --from {date_from}")
    landing = path_option("landing", args.landing)
    checks.landing(landing)
    warehouse = path_option("warehouse", args.warehouse)
    checks.done()
    use_prefect(_state(args, state_default(warehouse)))
    from flows.backtest import backtest_flow

    result = backtest_flow(
        candidate_rules=Path(candidate),
        date_from=date_from,
        date_to=date_to,
        landing=landing,
        warehouse=warehouse,
        out=path_option("out", args.out),
        report=path_option("report", args.report),
        baseline_rules=baseline,
        nights=args.nights,
    )
    print(result["headline"])
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    checks = Checks()
    if args.scale < 1:
        checks.problems.append(f"--scale {args.scale}: expected a whole number >= 1")
    checks.done()
    directory = Path(args.dir)
    use_prefect(_state(args, directory / "prefect"))
    from flows.demo import demo_flow

    result = demo_flow(directory=directory, scale=args.scale, seed=args.seed, nights=args.nights)
    print(result["text"])
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    checks = Checks()
    landing = path_option("landing", args.landing)
    checks.landing(landing)
    rules = _rules_option(checks, args.rules)
    warehouse = path_option("warehouse", args.warehouse)
    checks.warehouse(warehouse)
    port = args.port or env_default("port") or str(DEFAULT_PORT)
    if not port.isdigit() or not 0 < int(port) < 65536:
        checks.problems.append(f"--port {port!r}: expected a TCP port number")
    cron = args.cron or env_default("cron") or DEFAULT_CRON
    if problem := cron_problem(cron):
        checks.problems.append(problem)
    checks.done()
    home = use_prefect_home(_state(args, state_default(warehouse)))
    parameters = {
        "landing": str(landing.resolve()),
        "rules": str(rules.resolve()),
        "warehouse": str(warehouse.resolve()),
        "out": str(path_option("out", args.out).resolve()),
    }
    serve_nightly(parameters, cron, home, int(port))
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from partner_ledger.publish.review import approve

    folder = approve(
        path_option("warehouse", args.warehouse),
        path_option("out", args.out),
        args.batch_id,
        args.by,
    )
    print(f"{args.batch_id} approved and published to {folder}")
    return 0


COMMANDS = {
    "run": cmd_run,
    "backtest": cmd_backtest,
    "demo": cmd_demo,
    "serve": cmd_serve,
    "approve": cmd_approve,
    "rebuild": cmd_rebuild,
}


def _quiet_prefect() -> None:
    """No telemetry from the local Prefect server: this machine has no network to send it to."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


# Objects the collector's youngest generation takes before a collection (Python's default: 700).
# A night allocates millions of short-lived objects, dbt's events, contexts and Jinja templates
# above all, nearly none of them in reference cycles. The worked example's closing night spent
# 1.49-1.68 CPU-s in collections (1,668 young, 9 full ones), 0.74-0.78 s at 10,000 (132, 1).
# 50,000 saved 0.1 s more but raised L's cold run to 4,123 MB of peak RSS (3,797 MB at 10,000,
# 3,856 at 700; the target is 4 GB): cyclic garbage waits longer (docs/decisions/0012, session 32).
GC_YOUNG_THRESHOLD = 10_000


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
    _quiet_prefect()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    prefix = f"partner-ledger {args.command}"
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:  # nothing started: one line per problem
        for problem in exc.problems:
            print(f"{prefix}: {_secret_free(problem)}", file=sys.stderr)
        return 2
    except WarehouseBusy as exc:
        print(f"{prefix}: refused: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:  # a run that fails: one clear line, no secret, non-zero exit
        message = explain_startup_failure(_secret_free(str(exc)).strip()) or type(exc).__name__
        print(f"{prefix}: error: {message}", file=sys.stderr)
        return 1
    finally:
        # The command is done: the interpreter's exit would collect garbage through every
        # object Prefect, dbt and the night made, though the process frees it all anyway (a
        # night at M ended 1.5 s after its summary, in gc_collect_main; the worked example's
        # closing night cost about 2 CPU-s more). Frozen objects are left out of collections;
        # the exit handlers (Prefect's log and event drains) still run.
        gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
