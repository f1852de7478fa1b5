"""partner-ledger: the library the Prefect flows (flows/) and the command line call.

io (landing files, Stripe, the warehouse), rules (the rules folder and payout details), settle
(dbt, checks, rebuild), publish (payout files, rails, statements, review), demo (the generated
program), ops (one writer, Prefect's setup); cli, config and preflight at the top.
"""
