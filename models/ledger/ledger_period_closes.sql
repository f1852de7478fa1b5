{#- Period closes (SPEC §2.9): a run with as-of D closes every period whose end (the first
    instant of the next month) is on or before D 00:00 and that is not closed yet. A program's
    first period is the month of the earliest earned_at in its ledger at its first close; every
    later month is closed, empty or not. Append-only: a closed period is never closed again. -#}
{{ config(materialized='incremental', incremental_strategy='append') }}

with programs as (
    select program_id, currency, debtor_name, debtor_iban, debtor_bic
    from {{ ref('stg_rules__programs') }}
),

ledger as (
    select program_id, min(earned_at) as first_earned_at
    from {{ ref('ledger_entries') }}
    group by program_id
),

{% if is_incremental() %}
already_closed as (
    select program_id, max(period_start) as last_period_start
    from {{ this }}
    group by program_id
),
{% else %}
already_closed as (
    select cast(null as {{ dbt.type_string() }}) as program_id, cast(null as timestamp) as last_period_start
    where false
),
{% endif %}

next_period as (
    select
        ledger.program_id,
        coalesce(
            {{ dbt.dateadd('month', 1, 'already_closed.last_period_start') }},
            {{ month_start('ledger.first_earned_at') }}
        ) as first_open_period_start
    from ledger
    left join already_closed
        on ledger.program_id = already_closed.program_id
),

due as (
    select program_id, month_start as period_start
    from (
        {{ months_from_to(
            'next_period',
            'next_period.first_open_period_start',
            dbt.dateadd('month', -1, month_start(as_of_ts()))
        ) | indent(8) }}
    ) as spine
)

{#- The program's currency and debtor account are kept as they were at the close. -#}
select
    due.program_id || '-' || {{ year_month_text('due.period_start') }} as batch_id,
    due.program_id,
    {{ year_month_text('due.period_start') }} as period,
    due.period_start,
    {{ dbt.dateadd('month', 1, 'due.period_start') }} as period_end,
    {{ as_of_date() }} as closed_as_of,
    programs.currency,
    programs.debtor_name,
    programs.debtor_iban,
    programs.debtor_bic
from due
inner join programs
    on due.program_id = programs.program_id
