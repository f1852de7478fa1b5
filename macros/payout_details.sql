{#- Payout account checks of SPEC §2.9, by syntax only (no national, bank or DNS checks). -#}

{#- IBAN: spaces ignored, any case; two letters, two digits, 11–30 letters or digits; ISO 13616
    mod-97 = 1 (letters A=10 … Z=35, the first four characters moved to the end). -#}
{% macro is_valid_iban(column) -%}
    {%- set compact = "upper(replace(" ~ column ~ ", ' ', ''))" -%}
    {#- the first four characters moved to the end, then each letter replaced by its number -#}
    {%- set digits = namespace(text="substr(" ~ compact ~ ", 5) || substr(" ~ compact ~ ", 1, 4)") -%}
    {%- for letter in 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' -%}
        {%- set digits.text = "replace(" ~ digits.text ~ ", '" ~ letter ~ "', '" ~ (loop.index + 9) ~ "')" -%}
    {%- endfor -%}
    {#- mod 97 of a number of up to 68 digits, seven digits at a time: each step appends seven
        digits to the remainder so far (at most 9 digits, well inside a bigint) -#}
    {%- set remainder = namespace(sql="0") -%}
    {%- for start in range(1, 71, 7) -%}
        {%- set remainder.sql = "mod(" ~ dbt.safe_cast(
            "cast(" ~ remainder.sql ~ " as " ~ dbt.type_string() ~ ") || substr(iban_digits, " ~ start ~ ", 7)",
            dbt.type_bigint()
        ) ~ ", 97)" -%}
    {%- endfor -%}
    case
        when {{ regex_full_match(compact, '[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}') }}
            then {{ remainder.sql | replace('iban_digits', digits.text) }} = 1
        else false
    end
{%- endmacro %}

{#- PayPal: an email by syntax alone: exactly one @, a non-empty local part, a domain holding a
    dot, no whitespace. -#}
{% macro is_valid_paypal_account(column) -%}
    coalesce({{ regex_full_match(column, '[^@\\s]+@[^@\\s]*\\.[^@\\s]*') }}, false)
{%- endmacro %}

{#- Digits after the decimal point of a currency's major unit (ISO 4217). -#}
{% macro currency_minor_digits(currency) -%}
    case
        when {{ currency }} in ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG',
            'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') then 0
        when {{ currency }} in ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') then 3
        else 2
    end
{%- endmacro %}

{#- Integer minor units → decimal string with the currency's minor digits ("35.87"). -#}
{% macro format_minor_units(amount_cents, currency) -%}
    case {{ currency_minor_digits(currency) }}
        when 0 then cast({{ amount_cents }} as {{ dbt.type_string() }})
        else (case when {{ amount_cents }} < 0 then '-' else '' end)
            || cast({{ integer_divide('abs(' ~ amount_cents ~ ')', 'cast(pow(10, ' ~ currency_minor_digits(currency) ~ ') as bigint)') }} as {{ dbt.type_string() }})
            || '.'
            || lpad(
                cast(abs({{ amount_cents }}) % cast(pow(10, {{ currency_minor_digits(currency) }}) as bigint) as {{ dbt.type_string() }}),
                {{ currency_minor_digits(currency) }}, '0'
            )
    end
{%- endmacro %}

{#- SPEC §2.9: a partner is paid the whole payable when it is positive and reaches the program's
    minimum and nothing blocks the payout (status, payout details); otherwise nothing. -#}
{% macro payout_cents(payable, blocking_reason, min_payout_cents) -%}
    case
        when {{ blocking_reason }} is null and {{ payable }} > 0 and {{ payable }} >= {{ min_payout_cents }}
            then {{ payable }}
        else 0
    end
{%- endmacro %}
