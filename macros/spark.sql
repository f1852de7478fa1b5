{#- What the Spark target needs beyond the cross-database macros (docs/decisions/0028). On
    DuckDB every macro here renders nothing, or what the model wrote before. -#}

{#- The ledger's stores and the exports hold an enforced contract (docs/decisions/0025). DuckDB
    enforces its not-null constraints on every write. On Spark they are Parquet tables (Delta's
    table format would need jars from Maven, decision 0028), where a column cannot be declared
    NOT NULL, so dbt-spark sets no constraint (file_format: parquet) and this post-hook checks
    the table after each build and append instead: a null in a not-null column fails the model,
    naming the table and the columns. The count runs here, through run_query, and the hook
    itself renders nothing: a SELECT given to dbt-spark's session cursor is never evaluated. -#}
{% macro contract_not_null_check() -%}
    {{ return(adapter.dispatch('contract_not_null_check', 'partner_ledger')()) }}
{%- endmacro %}
{% macro default__contract_not_null_check() -%}{%- endmacro %}
{% macro spark__contract_not_null_check() -%}
    {%- set columns = [] %}
    {%- for name, column in model.columns.items() %}
        {%- for constraint in column.constraints if constraint.type == 'not_null' %}
            {%- do columns.append(name) %}
        {%- endfor %}
    {%- endfor %}
    {%- if execute and columns and config.get('contract').enforced %}
        {%- set counted %}
select count(*)
from {{ this }}
where {% for name in columns %}{{ name }} is null{{ ' or ' if not loop.last }}{% endfor %}
        {%- endset %}
        {%- set nulls = run_query(counted).columns[0].values()[0] | int %}
        {%- if nulls > 0 %}
            {{ exceptions.raise_compiler_error(
                this ~ ": " ~ nulls ~ " row(s) with a null in a not-null column of the contract ("
                ~ columns | join(", ") ~ ")"
            ) }}
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{#- ledger_statements settles the periods one run closes in order, each seeing the payouts of
    the ones before: a recursive query elsewhere. Spark has none (before 4.0), so each partner's
    closes of the run, in period order, are folded with `aggregate`: the fold carries what was
    paid before the close (the earlier runs' payouts, then each close's payout added) and
    collects the closes' rows, which are then exploded. The same rules as the recursive walk
    (carried_reason, payout_cents); every partner of a program has a row at each of its closes
    of the run (ledger_statements' partner_batches), so no step is skipped. -#}
{% macro spark_settlement_walk() -%}
{%- set payable = 'close.available_cents - walk.paid_before_cents' %}
{%- set reason = carried_reason(
    payable,
    'close.status_at_period_end',
    'close.payout_method',
    'close.payout_account',
    'close.has_valid_payout_account',
    'close.min_payout_cents',
) %}
{%- set step_type -%}
struct<batch_id: string, period_index: int, paid_before_cents: bigint, payable_cents: bigint,
    carried_reason: string, payout_cents: bigint>
{%- endset %}
settlement_folds as (
    select
        program_id,
        partner_id,
        aggregate(
            {# sorted by the struct's first field: the period's rank in the run #}
            array_sort(collect_list(struct(
                period_index,
                batch_id,
                cast(available_cents as bigint) as available_cents,
                status_at_period_end,
                payout_method,
                payout_account,
                has_valid_payout_account,
                min_payout_cents
            ))),
            named_struct(
                'paid_before_cents', cast(min(earlier_paid_cents) as bigint),
                'steps', cast(array() as array<{{ step_type }}>)
            ),
            (walk, close) -> named_struct(
                'paid_before_cents',
                cast(walk.paid_before_cents + {{ payout_cents(payable, reason) }} as bigint),
                'steps',
                concat(walk.steps, array(cast(named_struct(
                    'batch_id', close.batch_id,
                    'period_index', close.period_index,
                    'paid_before_cents', walk.paid_before_cents,
                    'payable_cents', {{ payable }},
                    'carried_reason', {{ reason }},
                    'payout_cents', {{ payout_cents(payable, reason) }}
                ) as {{ step_type }})))
            )
        ).steps as steps
    from eligibility
    group by program_id, partner_id
),

settlement_walk as (
    select
        step.batch_id,
        settlement_folds.program_id,
        settlement_folds.partner_id,
        step.period_index,
        step.paid_before_cents,
        step.payable_cents,
        step.carried_reason,
        step.payout_cents
    from settlement_folds
    lateral view explode(settlement_folds.steps) folded as step
),
{%- endmacro %}
