{#- The ledger entries behind each partner statement (SPEC §3.2), line by line: the entries a
    close settles (settled_batch_id: they make up the statement's activity columns) and the
    entries on hold at the close (earned before the period's end, available after it, recorded
    by the closing run: they make up held_cents), one row per batch, entry and kind. What a
    partner's statement lists; payouts are the statement's own line.
    A closed batch never changes (its settled entries and its held entries are fixed by the
    closing run), so each night adds the rows of the batches it closed and reads nothing else:
    incremental by batch, never by rebuilding the statements of years of closes.

    Built from the ledger's store and the closes, with the settlement rule
    (macros/settlement.sql), not from the ledger mart: the mart is the night's last model but
    one, and this model, after it, ended the night (7 s at L). Only the entries that no earlier
    close settled can be a new close's lines (below); the rule places those, and each line's
    columns are read from the store once, at the end (docs/decisions/0012, sessions 21, 31). -#}
{#- The keys a night records are its batches (macros/written_keys.sql): the lines come a
    batch at a time, and a line's id begins with its batch's, so two lines sharing an id share
    the batch and a test reading tonight's batches reads both. Recorded by line, the keys were a
    distinct of every line's id (1.5 million at L's closing night, 1.1 CPU-s) and each test read
    the table through a join on them; by batch, two keys (docs/decisions/0012, session 36). -#}
{{ config(materialized='incremental', incremental_strategy='append', written_key='batch_id') }}
{#- by row id on DuckDB; by entry id on Spark, and in an empty build (`--empty`, a rebuild's
    start), where dbt reads each ref as a subquery of no rows, which has no row ids -#}
{%- set by_row = target.type == 'duckdb' and not flags.EMPTY %}
{%- set line_key = 'entry_row' if by_row else 'entry_id' %}

with closes as (
    select batch_id, program_id, period_start, period_end, closed_as_of
    from {{ ref('ledger_period_closes') }}
),

batches as (
    select * from closes
    {%- if is_incremental() %}
    where batch_id not in (select distinct batch_id from {{ this }})
    {%- endif %}
),

{# Per program, its first new close and the as-of of the last close before it. An entry
    available before that first period and recorded by that earlier close was settled by a close
    before (its settling close is the later of its month's and its recording's first close, both
    earlier), and is on hold at no new close (held entries are available after the period's
    end). Every other entry of the program is a candidate; with no earlier close, every entry. #}
first_new as (
    select program_id, min(period_start) as first_period_start
    from batches
    group by program_id
),

program_bounds as (
    select
        first_new.program_id,
        first_new.first_period_start,
        max(closes.closed_as_of) as earlier_closed_as_of
    from first_new
    left join closes
        on first_new.program_id = closes.program_id
        and first_new.first_period_start > closes.period_start
    group by first_new.program_id, first_new.first_period_start
),

candidates as (
    select
        {{ "ledger.rowid as entry_row," if by_row }}
        ledger.entry_id,
        ledger.program_id,
        ledger.earned_at,
        ledger.available_at,
        ledger.recorded_at
    from {{ ref('ledger_entries') }} as ledger
    inner join program_bounds
        on ledger.program_id = program_bounds.program_id
    where ledger.available_at >= program_bounds.first_period_start
        or program_bounds.earlier_closed_as_of is null
        or ledger.recorded_at > program_bounds.earlier_closed_as_of
),

{{ settlement_rule('candidates', ref('ledger_period_closes'), prefix='rule_') }},

settled as (
    select
        batches.batch_id,
        'settled' as line_kind,
        rule_settled.*
    from rule_settled
    inner join batches
        on rule_settled.settled_batch_id = batches.batch_id
),

{# an entry is on hold at every close between its event and its release: a hold of a few days
    or weeks meets one or two closes #}
held as (
    select
        batches.batch_id,
        'held' as line_kind,
        candidates.*
    from candidates
    inner join batches
        on candidates.program_id = batches.program_id
        and candidates.earned_at < batches.period_end
        and candidates.available_at >= batches.period_end
        and candidates.recorded_at <= batches.closed_as_of
),

lines as (
    select batch_id, line_kind, {{ line_key }} from settled
    union all
    select batch_id, line_kind, {{ line_key }} from held
),

{# the lines' entries, every column: on DuckDB by row id, so that the scan skips the store's
    row groups outside the lines' range (they were recorded in the last weeks: the store's
    tail; macros/written_keys.sql, row_ids_with_keys) #}
entries as (
    select
        {{ "rowid as entry_row," if by_row }}
        *
    from {{ ref('ledger_entries') }}
    where {{ 'rowid' if by_row else 'entry_id' }} in (select {{ line_key }} from lines)
)

select
    lines.batch_id || '|' || entries.entry_id || '|' || lines.line_kind as statement_entry_id,
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
inner join entries
    on lines.{{ line_key }} = entries.{{ line_key }}
