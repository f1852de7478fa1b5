"""partner-ledger's Prefect flows: thin flow and task definitions over the partner_ledger library."""
