{#- The ledger entries behind each partner statement (SPEC §3.2), line by line: the entries a
    close settles (settled_batch_id: they make up the statement's activity columns) and the
    entries on hold at the close (earned before the period's end, available after it, recorded
    by the closing run: they make up held_cents), one row per batch, entry and kind. What a
    partner's statement lists; payouts are the statement's own line.
    A closed batch never changes (its settled entries and its held entries are fixed by the
    closing run), so each night adds the rows of the batches it closed and reads nothing else:
    incremental by batch, never by rebuilding the statements of years of closes.
    The lines are found on the few columns the two rules read, and each line's columns are
    joined from the ledger mart once at the end: a CTE of every column of every entry, read by
    both rules and the final join, was copied whole (6 million entries at L: the night's select
    3.5 s → 1.7 s alone, docs/decisions/0012, session 21). -#}
{{ config(materialized='incremental', incremental_strategy='append', written_key='statement_entry_id') }}

with entries as (
    select entry_id, program_id, settled_batch_id, earned_at, available_at, recorded_at
    from {{ ref('fct_ledger_entries') }}
    where entry_type != 'payout'
),

batches as (
    select batch_id, program_id, period_start, period_end, as_of
    from {{ ref('fct_payout_batches') }}
    {%- if is_incremental() %}
    where batch_id not in (select distinct batch_id from {{ this }})
    {%- endif %}
),

settled as (
    select
        entries.settled_batch_id as batch_id,
        'settled' as line_kind,
        entries.entry_id
    from entries
    inner join batches
        on entries.settled_batch_id = batches.batch_id
),

{# an entry is on hold at every close between its event and its release: a hold of a few days
    or weeks meets one or two closes #}
held as (
    select
        batches.batch_id,
        'held' as line_kind,
        entries.entry_id
    from entries
    inner join batches
        on entries.program_id = batches.program_id
        and entries.earned_at < batches.period_end
        and entries.available_at >= batches.period_end
        and entries.recorded_at <= batches.as_of
),

lines as (
    select * from settled
    union all
    select * from held
)

select
    lines.batch_id || '|' || lines.entry_id || '|' || lines.line_kind as statement_entry_id,
    lines.batch_id,
    lines.line_kind,
    entries.program_id,
    entries.partner_id,
    entries.entry_id,
    entries.entry_type,
    entries.amount_cents,
    {{ currency_minor_digits('entries.currency') }} as minor_digits,
    entries.currency,
    entries.earned_at,
    entries.available_at,
    entries.recorded_at,
    entries.source_key,
    entries.paid_event_type,
    entries.paid_event_id,
    entries.customer_key,
    entries.referred_partner_id,
    entries.tier,
    entries.phase,
    entries.month_number,
    entries.rate_bps
from lines
inner join {{ ref('fct_ledger_entries') }} as entries
    on lines.entry_id = entries.entry_id
