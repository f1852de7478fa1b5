"""The columns of the payout files, read from the export models' enforced contracts.

The columns of payouts.csv/.parquet and statements.csv are declared once, in the dbt contract
of their export models (``exp_payouts``, ``exp_statements``, in the ``models/`` YAML); dbt
refuses a model whose columns differ from it, and publishing writes the contract's columns in
its order. No column list is restated in Python.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from partner_ledger.settle.dbt import PROJECT_DIR


class ContractMissing(LookupError):
    """No YAML file under models/ declares the model's columns."""


@functools.cache
def contract_columns(model: str, models_dir: Path = PROJECT_DIR / "models") -> tuple[str, ...]:
    """The column names of ``model``'s enforced contract, in declared order. The YAML file is
    found by the model's name, wherever it lives under ``models_dir``."""
    for path in sorted(models_dir.rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for node in document.get("models") or []:
            if node.get("name") != model:
                continue
            columns = tuple(column["name"] for column in node.get("columns") or [])
            if not columns:
                raise ContractMissing(f"{path}: the model {model} declares no columns")
            return columns
    raise ContractMissing(f"no YAML file under {models_dir} declares the model {model}")
