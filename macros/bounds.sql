{#- Plausibility bounds of a record (docs/decisions/0015): the values are vars of
    dbt_project.yml. -#}

{#- True when an amount in cents is beyond the largest one a record may carry. -#}
{% macro is_amount_out_of_range(amount) -%}
    (abs({{ amount }}) > {{ var('max_amount_cents') }})
{%- endmacro %}

{#- The quarantine reason of a record's timestamp: too old to be a record of any program, or
    more than the tolerance after both the run's as-of and the present (a replay or backtest of
    old nights, whose landing holds the later records, does not call them future); null when it
    is plausible (or null). -#}
{% macro timestamp_bound_reason(ts) -%}
    case
        when {{ ts }} < cast('{{ var("earliest_record_date") }}' as timestamp)
            then 'timestamp_out_of_range'
        when {{ ts }} > {{ dbt.dateadd('hour', var('future_tolerance_hours'), as_of_ts()) }}
            and {{ ts }} > {{ dbt.dateadd('hour', var('future_tolerance_hours'), 'cast(' ~ dbt.current_timestamp() ~ ' as timestamp)') }}
            then 'timestamp_in_future'
    end
{%- endmacro %}
