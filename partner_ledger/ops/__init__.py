"""Running it: one writer per warehouse, owner-only files, which Prefect API and its state, the local
Prefect server of `serve`."""
