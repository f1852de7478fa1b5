{#- Money arithmetic (SPEC: integer cents, exact decimals, round half away from zero once per
    entry). Every rounding in the project goes through round_half_away, on exact integers. -#}

{#- Fixed-point scale for converted bases: a basis in the program's currency is carried as
    cents × 10^12 (wide_integer_type), exact for fx rates with up to 12 decimals. -#}
{% macro basis_scale() -%}
    cast(1000000000000 as {{ wide_integer_type() }})
{%- endmacro %}

{#- round(numerator / denominator), half away from zero, for integers with denominator > 0. -#}
{% macro round_half_away(numerator, denominator, result_type='bigint') -%}
    {%- set wide = wide_integer_type() -%}
    cast(
        {{ sign_of(numerator) }}
        * {{ integer_divide(
            'abs(cast(' ~ numerator ~ ' as ' ~ wide ~ ')) * 2 + cast(' ~ denominator ~ ' as ' ~ wide ~ ')',
            'cast(' ~ denominator ~ ' as ' ~ wide ~ ') * 2'
        ) }}
        as {{ result_type }}
    )
{%- endmacro %}

{#- round(basis × rate_bps / 10000) with the basis in scaled cents (basis_scale). -#}
{% macro bps_of_scaled(basis_scaled, rate_bps) -%}
    {{ round_half_away(basis_scaled ~ ' * ' ~ rate_bps, basis_scale() ~ ' * 10000') }}
{%- endmacro %}

{#- round(amount × rate_bps / 10000) for integer cents. -#}
{% macro bps_of_cents(amount_cents, rate_bps) -%}
    {{ round_half_away(amount_cents ~ ' * ' ~ rate_bps, '10000') }}
{%- endmacro %}

{#- -1, 0 or 1 as an integer. Spark's sign() is a double, and a double times a wide integer is
    a double: 10^17 scaled cents lost their last digits (docs/decisions/0028). -#}
{% macro sign_of(value) -%}
    {{ return(adapter.dispatch('sign_of', 'partner_ledger')(value)) }}
{%- endmacro %}
{% macro default__sign_of(value) -%}
    sign({{ value }})
{%- endmacro %}
{% macro spark__sign_of(value) -%}
    (case when {{ value }} > 0 then 1 when {{ value }} < 0 then -1 else 0 end)
{%- endmacro %}
