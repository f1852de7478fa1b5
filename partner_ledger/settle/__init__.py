"""Settling a night around dbt: calling dbt, the Great Expectations audit and its page, what a run
records, rebuilding from published batches, a backtest's report."""
