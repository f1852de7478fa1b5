"""dbt-duckdb's connections to a run's working copy that is a second name of the warehouse file
hold their checkpoints, as the run's own do (partner_ledger.io.warehouse.connect, decision 0027),
and every database dbt opens stores its tables as the warehouse's are stored
(partner_ledger.io.warehouse.TABLE_STORAGE: text without FSST compression).

Named in profiles.yml under `plugins`; dbt-duckdb calls it when it opens the database. Any other
database (a developer's warehouse, a unit test's) is opened as dbt-duckdb would open it, with the
same storage settings.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from partner_ledger.io.warehouse import (
    HELD_SETTINGS,
    hold_checkpoints,
    holds_checkpoints,
    store_tables,
)


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self._held = False

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        self._held = holds_checkpoints(creds.path)
        if self._held:
            config.update(HELD_SETTINGS)

    def configure_connection(self, conn: Any) -> None:
        store_tables(conn)
        if self._held:
            hold_checkpoints(conn)
