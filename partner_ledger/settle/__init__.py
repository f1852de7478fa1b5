"""Settling a night: dbt, the Great Expectations audit, rebuilding from published batches."""
