{#- The ledger (SPEC §2.8): every accrual entry appended by the nightly runs, and the payout
    entries of the closed periods (negative: the amount owed goes down). Both stores are
    append-only, so this table only ever grows. Each entry names the close that settled it
    (settled_batch_id: the statement that counts it) and the payout line that paid it
    (paid_batch_id), so that a payout line leads to its entries and an entry to its line.

    Scoped (macros/change_scope.sql, docs/decisions/0026). Both stores are append-only and a
    close settles and pays only entries that no earlier close had (closes come in period
    order: a later close never lowers the first close meeting a rule), so a row changes only
    when its entry is new, or when a close since the last build settles or pays it. A night
    writes the entries and payouts recorded since the last build, and looks again at the
    stored entries not yet settled that a program's last close may settle (available by the
    end of its period) and the stored entries settled and not yet paid of the partners a close
    since pays.

    A stored entry's row changes in its two batches only: every other column is its row of the
    ledger's store, which never changes. So those rows are updated in place
    (`updated_columns`): their two batches, not a new copy of the row read again from the
    store with the stored row deleted (M's closing night: about 221,500 rows; the replace wrote
    every column and left each old row deleted until a compaction; docs/decisions/0026,
    session 27).

    Each row written changes: a new entry, or one a close since settles or pays. Only the same
    night run again writes rows it leaves as they were (its own entries: 8,094 at M). So the
    strategy does not compare the written rows with the stored ones (compare_recomputed_rows,
    macros/change_scope.sql): the comparison read every stored row of the table to drop none. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='entry_id',
    incremental_strategy='scope_replace',
    compare_recomputed_rows=false,
    updated_columns=['settled_batch_id', 'paid_batch_id'],
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies(['ledger_period_closes']) }}
{%- set scope = change_scope() %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with
{%- if scope.mode == 'changes' %}

{# the programs closed since, with their last closed period: an entry is settled by the first
    close of the month it is available in or later, so a stored entry available after that
    period stays unsettled #}
closing_programs as (
    select program_id, max(period_start) as last_period_start
    from {{ ref('ledger_period_closes') }}
    group by program_id
    having {{ stamped_since(scope, 'max(closed_as_of)') }}
),

{# a settled entry is paid by the first close at or after its settling close that pays its
    partner: only the partners a close since pays can have entries paid tonight #}
paid_partners as (
    select distinct program_id, partner_id
    from {{ ref('ledger_statements') }}
    where payout_cents > 0
        and {{ stamped_since(scope, 'closed_as_of') }}
),

{# the accrual entries recorded since (the payouts in scope are those of the closes since:
    below); every store stamps its rows with the as-of of the run that appends them #}
new_entry_ids as (
    select entry_id
    from {{ ref('ledger_entries') }}
    where {{ stamped_since(scope, 'recorded_at') }}
),

{# the stored entries a close since may settle or pay (none of them new: the same night run
    again finds its own entries stored) #}
stored as (
    select stored.entry_id, stored.program_id, stored.partner_id
    from {{ this }} as stored
    inner join closing_programs
        on stored.program_id = closing_programs.program_id
    where stored.entry_type != 'payout'
        and stored.settled_batch_id is null
        and {{ month_start('stored.available_at') }} <= closing_programs.last_period_start
        and stored.entry_id not in (select new_entry_ids.entry_id from new_entry_ids)
    union all
    select stored.entry_id, stored.program_id, stored.partner_id
    from {{ this }} as stored
    inner join paid_partners
        on stored.program_id = paid_partners.program_id
        and stored.partner_id = paid_partners.partner_id
    where stored.entry_type != 'payout'
        and stored.settled_batch_id is not null
        and stored.paid_batch_id is null
        and stored.entry_id not in (select new_entry_ids.entry_id from new_entry_ids)
),
{%- endif %}

{# new_entry_ids' rows, found by the stamp itself: the store is appended in as-of order, so
    its zone maps skip every older row group (matched by entry_id, every column of six million
    entries was read at L: 1.4 s of the night) #}
ledger as (
    select * from {{ ref('ledger_entries') }}
    {%- if scope.mode == 'changes' %}
    where {{ stamped_since(scope, 'recorded_at') }}
    {%- endif %}
),

{# the entries the settlement rule places (macros/settlement.sql): the night's scope, not every
    entry of the store, placed by the view int_ledger_entries_settled and then kept (at M the
    rule's per-row work over 1.5 million entries was about half of the query) #}
placed as (
    select entry_id, program_id, available_at, recorded_at
    from {{ ref('ledger_entries') }}
    {%- if scope.mode == 'changes' %}
    where entry_id in (
        select new_entry_ids.entry_id from new_entry_ids
        union all
        select stored.entry_id from stored
    )
    {%- endif %}
),

{{ settlement_rule(
    'placed',
    ref('ledger_period_closes'),
    recordings=none if scope.mode == 'changes'
        else 'select distinct program_id, recorded_at from ' ~ ref('ledger_entries'),
    prefix='rule_',
) }},

settled as (
    select entry_id, settled_period_start, settled_batch_id from rule_settled
),

accruals as (
    select
        ledger.*,
        settled.settled_period_start,
        settled.settled_batch_id
    from ledger
    left join settled
        on ledger.entry_id = settled.entry_id
),
{%- if scope.mode == 'changes' %}

stored_accruals as (
    select
        stored.entry_id,
        stored.program_id,
        stored.partner_id,
        settled.settled_period_start,
        settled.settled_batch_id
    from stored
    left join settled
        on stored.entry_id = settled.entry_id
),
{%- endif %}

payouts as (
    select * from {{ ref('ledger_statements') }}
    where payout_cents > 0
),

{# A paid close pays the partner's whole payable (its closing balance is 0), so it pays every
    entry settled since the partner's previous paid close: an entry is paid by the first close
    at or after its settling close that paid the partner. Looked up once per partner and
    settling close, not per entry. #}
settled_groups as (
    select distinct program_id, partner_id, settled_period_start
    from (
        select program_id, partner_id, settled_period_start from accruals
        {%- if scope.mode == 'changes' %}
        union all
        select program_id, partner_id, settled_period_start from stored_accruals
        {%- endif %}
    ) as settled_entries
    where settled_period_start is not null
),

paying_closes as (
    select
        settled_groups.program_id,
        settled_groups.partner_id,
        settled_groups.settled_period_start,
        settled_groups.program_id || '-' || {{ year_month_text('min(payouts.period_start)') }} as paid_batch_id
    from settled_groups
    inner join payouts
        on settled_groups.program_id = payouts.program_id
        and settled_groups.partner_id = payouts.partner_id
        and settled_groups.settled_period_start <= payouts.period_start
    group by settled_groups.program_id, settled_groups.partner_id, settled_groups.settled_period_start
),

accrual_entries as (
    select
        accruals.entry_id,
        accruals.program_id,
        accruals.partner_id,
        accruals.currency,
        accruals.entry_type,
        accruals.amount_cents,
        accruals.earned_at,
        accruals.available_at,
        accruals.recorded_at,
        accruals.source_key,
        accruals.paid_event_type,
        accruals.paid_event_id,
        accruals.customer_key,
        accruals.referred_partner_id,
        accruals.tier,
        accruals.phase,
        accruals.month_number,
        accruals.rate_bps,
        accruals.rate_version,
        accruals.touch_source,
        accruals.touch_id,
        cast(null as {{ dbt.type_string() }}) as batch_id,
        accruals.settled_batch_id,
        paying_closes.paid_batch_id
    from accruals
    left join paying_closes
        on accruals.program_id = paying_closes.program_id
        and accruals.partner_id = paying_closes.partner_id
        and accruals.settled_period_start = paying_closes.settled_period_start
),
{%- if scope.mode == 'changes' %}

{# the stored entries' new batches: set in place by the strategy (updated_columns) #}
stored_updates as (
    select
        stored_accruals.entry_id,
        stored_accruals.settled_batch_id,
        paying_closes.paid_batch_id
    from stored_accruals
    left join paying_closes
        on stored_accruals.program_id = paying_closes.program_id
        and stored_accruals.partner_id = paying_closes.partner_id
        and stored_accruals.settled_period_start = paying_closes.settled_period_start
),
{%- endif %}

payout_entries as (
    select
        {{ dbt.hash("batch_id || '|' || partner_id || '|payout'") }} as entry_id,
        program_id,
        partner_id,
        currency,
        'payout' as entry_type,
        -payout_cents as amount_cents,
        period_end as earned_at,
        period_end as available_at,
        closed_as_of as recorded_at,
        'payout_batch:' || batch_id as source_key,
        cast(null as {{ dbt.type_string() }}) as paid_event_type,
        cast(null as {{ dbt.type_string() }}) as paid_event_id,
        cast(null as {{ dbt.type_string() }}) as customer_key,
        cast(null as {{ dbt.type_string() }}) as referred_partner_id,
        cast(null as {{ dbt.type_string() }}) as tier,
        cast(null as {{ dbt.type_string() }}) as phase,
        cast(null as integer) as month_number,
        cast(null as integer) as rate_bps,
        cast(null as date) as rate_version,
        cast(null as {{ dbt.type_string() }}) as touch_source,
        cast(null as {{ dbt.type_string() }}) as touch_id,
        batch_id,
        batch_id as settled_batch_id,
        batch_id as paid_batch_id
    from payouts
    {%- if scope.mode == 'changes' %}
    where {{ stamped_since(scope, 'closed_as_of') }}
    {%- endif %}
),

ledger_rows as (
    select * from accrual_entries
    union all
    select * from payout_entries
)
{%- if scope.mode == 'changes' %},

scope_keys as (
    select entry_id from new_entry_ids
    union
    select entry_id from payout_entries
)
{%- endif %}

{{ scope_select_updating(scope, 'ledger_rows', 'scope_keys', 'entry_id', 'stored_updates') }}
