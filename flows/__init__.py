"""partner-ledger: the Prefect flows, tasks and command line around the dbt project."""
