"""Every model is documented and keyed, and the marts and exports document every column: read
from the manifest of a real `dbt docs generate` (its catalog left empty: no warehouse needed)."""

from __future__ import annotations

import json
import os

import pytest

from partner_ledger.settle.dbt import PROJECT_DIR, _release_duckdb


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    from dbt.cli.main import dbtRunner

    root = tmp_path_factory.mktemp("docs")
    os.environ["PARTNER_LEDGER_WAREHOUSE"] = str(root / "docs.duckdb")
    try:
        result = dbtRunner().invoke(
            [
                "docs",
                "generate",
                "--empty-catalog",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--target-path",
                str(root / "target"),
                "--quiet",
            ]
        )
    finally:
        _release_duckdb()
        os.environ.pop("PARTNER_LEDGER_WAREHOUSE", None)
    assert result.success, result.exception
    assert (root / "target" / "index.html").is_file()
    return json.loads((root / "target" / "manifest.json").read_text())


def _models(manifest: dict) -> dict[str, dict]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "partner_ledger"
    }


def test_every_model_has_a_description(manifest: dict) -> None:
    models = _models(manifest)
    assert len(models) >= 55
    assert [name for name, node in models.items() if not node["description"].strip()] == []


def test_every_model_has_a_primary_key_test(manifest: dict) -> None:
    """unique + not_null on one column, or unique_combination over the key's columns."""
    keyed: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or "test_metadata" not in node:
            continue
        kind = node["test_metadata"]["name"]
        model = node["attached_node"].split(".")[-1] if node.get("attached_node") else None
        if model is None:
            continue
        if kind == "unique_combination":
            keyed.setdefault(model, set()).add("combination")
        elif kind in ("unique", "not_null"):
            keyed.setdefault(model, set()).add(f"{kind}:{node['column_name']}")
    unkeyed = []
    for name in _models(manifest):
        tests = keyed.get(name, set())
        columns = {t.split(":", 1)[1] for t in tests if t.startswith("unique:")}
        if "combination" not in tests and not any(f"not_null:{c}" in tests for c in columns):
            unkeyed.append(name)
    assert unkeyed == []


def test_marts_and_exports_describe_every_column(manifest: dict) -> None:
    undescribed = []
    for name, node in _models(manifest).items():
        if not (name.startswith(("fct_", "dim_", "exp_")) or name == "quarantine"):
            continue
        assert node["columns"], f"{name} declares no columns"
        undescribed += [
            f"{name}.{c}" for c, col in node["columns"].items() if not col["description"]
        ]
    assert undescribed == []


def test_intermediate_models_never_read_marts(manifest: dict) -> None:
    """Lineage flows staging → intermediate → ledger → marts → exports, never back."""
    models = _models(manifest)
    by_id = {node["unique_id"]: node for node in models.values()}
    wrong = []
    for name, node in models.items():
        if "/intermediate/" not in "/" + node["original_file_path"]:
            continue
        for parent in node["depends_on"]["nodes"]:
            parent_node = by_id.get(parent)
            if parent_node and parent_node["original_file_path"].startswith(
                ("models/marts/", "models/exports/")
            ):
                wrong.append(f"{name} reads {parent_node['name']}")
    assert wrong == []
