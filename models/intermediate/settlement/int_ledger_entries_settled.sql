{#- The close that settles each accrual entry (SPEC §2.9, §3.2), for every entry of the ledger's
    store: the rule is macros/settlement.sql (settlement_rule), which fct_ledger_entries applies
    to the entries of its night's scope. The settlement walk (ledger_statements) reads this view.
    A view of the narrow columns the rule needs; the recording nights are read from the two
    stores rather than from the placed rows, which DuckDB would otherwise copy whole to read
    them twice (at M: 0.75 s of ledger_statements' query; docs/decisions/0012, session 31).

    Its key test reads the rows of the entries ledger_entries appended tonight (written_key_of,
    macros/written_keys.sql): each row is one entry of the store, or one published amount (no
    entry_id: always read), and its key columns are the entry's, which never change. -#}
{{ config(materialized='view', written_key_of='ledger_entries') }}

with accruals as (
    select * from {{ ref('ledger_entries') }}
),

published as (
    select * from {{ source('raw', 'published_settlements') }}
),

{# The rows the rule places: every ledger entry, and after a rebuild (docs/decisions/0017)
    each published amount taken back (−), recorded at the rebuild: the rebuilt ledger records
    all of history at the rebuild's as-of, so the first close after it would count again what
    the published closes settled. The published amounts themselves stay settled by their
    published close (ledger_statements adds them back there); these rows have no entry_id. #}
placed as (
    select
        entry_id, program_id, partner_id, entry_type, amount_cents, earned_at, available_at,
        recorded_at
    from accruals
    union all
    select
        cast(null as {{ dbt.type_string() }}) as entry_id, program_id, partner_id, entry_type,
        -amount_cents as amount_cents, period_start as earned_at, period_start as available_at,
        rebuilt_as_of as recorded_at
    from published
),

{{ settlement_rule(
    'placed',
    ref('ledger_period_closes'),
    recordings="select program_id, recorded_at from " ~ ref('ledger_entries')
        ~ " union select program_id, rebuilt_as_of from " ~ source('raw', 'published_settlements'),
) }}

select * from settled
