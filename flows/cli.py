"""`partner-ledger` command line (SPEC §3.3): run, backtest, demo, serve.

Every option also reads an environment variable (flows.config.ENV). Exit status: 0 success,
1 a run that failed (a check, invalid rules, an input error: the message says which), 2 usage.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from flows.config import ENV, env_default, parse_date, path_option


def _secret_free(text: str) -> str:
    key = os.environ.get("STRIPE_API_KEY")
    return text.replace(key, "***") if key else text


def _add_paths(parser: argparse.ArgumentParser, *names: str) -> None:
    helps = {
        "landing": "landing directory (SPEC §1.1)",
        "rules": "rules folder (SPEC §1.3); default: the project's seeds/",
        "warehouse": "DuckDB warehouse file",
        "out": "output folder for payout files and reports",
        "report": "folder for the backtest report",
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
    _add_paths(run, "landing", "rules", "warehouse", "out")

    backtest = commands.add_parser("backtest", help="replay history under other rules")
    backtest.add_argument("--from", dest="date_from", help=f"first night [env {ENV['date_from']}]")
    backtest.add_argument("--to", dest="date_to", help=f"last night [env {ENV['date_to']}]")
    _add_paths(backtest, "rules", "landing", "warehouse", "out", "report")
    backtest.add_argument(
        "--baseline-rules", help="the rules to compare against (default: the project's seeds/)"
    )
    backtest.add_argument(
        "--nights",
        choices=["quarterly", "monthly", "semimonthly", "weekly", "daily"],
        default="monthly",
        help="which nights to replay between --from and --to (always --to itself)",
    )

    demo = commands.add_parser("demo", help="generate a demo program and run it end to end")
    demo.add_argument("--dir", default="demo_output", help="where the demo writes everything")
    demo.add_argument("--scale", type=int, default=1, help="volume multiplier (benchmarks)")
    demo.add_argument("--seed", type=int, default=20250101)
    demo.add_argument(
        "--nights",
        choices=["quarterly", "monthly", "semimonthly", "weekly", "daily"],
        default="quarterly",
        help="which nights of the year to replay (quarterly: each run closes three months; "
        "monthly: every close night)",
    )

    serve = commands.add_parser("serve", help="schedule the nightly run with a cron (Prefect)")
    serve.add_argument("--cron", default="30 2 * * *", help="cron schedule, UTC")
    _add_paths(serve, "landing", "rules", "warehouse", "out")
    return parser


def _required_date(value: str | None, option: str) -> date:
    value = value or env_default(option)
    if not value:
        raise ValueError(f"--{option.replace('_', '-')} is required (or set {ENV[option]})")
    return parse_date(value, option)


def cmd_run(args: argparse.Namespace) -> int:
    from flows.nightly import nightly_settlement

    summary = nightly_settlement(
        as_of=_required_date(args.as_of, "as_of"),
        landing=path_option("landing", args.landing),
        rules=path_option("rules", args.rules),
        warehouse=path_option("warehouse", args.warehouse),
        out=path_option("out", args.out),
    )
    print(
        f"as of {summary['as_of']}: {summary['files_loaded']} file(s) loaded, "
        f"{summary['quarantined']} row(s) in quarantine, "
        f"{summary['ledger_entries_appended']} ledger entr(ies) appended, "
        f"batches closed: {', '.join(summary['batches_closed']) or 'none'}"
    )
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from flows.backtest import backtest_flow

    rules = args.rules or env_default("rules")
    if not rules:
        raise ValueError(f"--rules is required (or set {ENV['rules']})")
    result = backtest_flow(
        candidate_rules=Path(rules),
        date_from=_required_date(args.date_from, "date_from"),
        date_to=_required_date(args.date_to, "date_to"),
        landing=path_option("landing", args.landing),
        warehouse=path_option("warehouse", args.warehouse),
        out=path_option("out", args.out),
        report=path_option("report", args.report),
        baseline_rules=Path(args.baseline_rules) if args.baseline_rules else None,
        nights=args.nights,
    )
    print(result["headline"])
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from flows.demo import demo_flow

    result = demo_flow(
        directory=Path(args.dir), scale=args.scale, seed=args.seed, nights=args.nights
    )
    print(result["text"])
    return 0


def nightly_deployment(args: argparse.Namespace):
    """The nightly flow as a Prefect deployment on a cron schedule (UTC). A scheduled run has no
    as-of parameter: it settles the night it runs (today's date, UTC)."""
    from flows.nightly import nightly_settlement

    return nightly_settlement.to_deployment(
        name="nightly-settlement",
        cron=args.cron,
        parameters={
            "landing": str(path_option("landing", args.landing).resolve()),
            "rules": str(path_option("rules", args.rules).resolve()),
            "warehouse": str(path_option("warehouse", args.warehouse).resolve()),
            "out": str(path_option("out", args.out).resolve()),
        },
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from prefect import serve

    serve(nightly_deployment(args))
    return 0


COMMANDS = {"run": cmd_run, "backtest": cmd_backtest, "demo": cmd_demo, "serve": cmd_serve}


def _quiet_prefect() -> None:
    """No telemetry from the local Prefect server: this machine has no network to send it to."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_prefect()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except Exception as exc:  # a run that fails: one clear line, no secret, non-zero exit
        message = _secret_free(str(exc)).strip() or type(exc).__name__
        print(f"partner-ledger {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
