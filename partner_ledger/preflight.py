"""Inputs checked before anything starts (no Prefect, no warehouse): options, the landing
directory and the rules folder. Every problem is collected, one line each; the command line
prints them and exits 2, in well under two seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from partner_ledger.config import ENV, env_default, parse_date
from partner_ledger.rules.validate import RulesError, validate_rules


class InputError(ValueError):
    """The inputs are refused; ``problems`` holds one line per problem."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)


class Checks:
    """Collects problems while reading options; `done()` raises them all at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def date(self, value: str | None, option: str, *, required: bool = True) -> date | None:
        value = value or env_default(option)
        flag = f"--{option.replace('_', '-')}"
        if not value:
            if required:
                self.problems.append(f"{flag} is required (or set {ENV[option]})")
            return None
        try:
            return parse_date(value, option)
        except ValueError as exc:
            self.problems.append(str(exc))
            return None

    def landing(self, landing: Path) -> None:
        if not landing.exists():
            self.problems.append(
                f"the landing directory {landing.resolve()} does not exist (--landing or "
                f"{ENV['landing']}); is the drive mounted?"
            )
        elif not landing.is_dir():
            self.problems.append(f"the landing directory {landing.resolve()} is not a directory")

    def rules(self, rules: Path, option: str = "--rules") -> None:
        try:
            validate_rules(rules)
        except RulesError as exc:
            for problem in exc.problems:
                where = Path(problem.file)
                shown = str(problem) if where.is_absolute() else f"{rules.resolve()}/{problem}"
                self.problems.append(shown if option == "--rules" else f"{option}: {shown}")

    def warehouse(self, warehouse: Path) -> None:
        if warehouse.is_dir():
            self.problems.append(
                f"the warehouse {warehouse.resolve()} is a directory; expected a DuckDB file"
            )
        for parent in warehouse.resolve().parents:
            if parent.exists():
                if not parent.is_dir():
                    self.problems.append(f"the warehouse folder {parent} is a file")
                break

    def done(self) -> None:
        if self.problems:
            raise InputError(self.problems)
