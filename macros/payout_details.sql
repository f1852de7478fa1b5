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

{#- SPEC §2.9: whether a payout account is valid for its method, by syntax alone: a sepa
    account must be an IBAN, a paypal account an email address; wise and manual take any
    account. Only meaningful when both are present (carried_reason checks that first). -#}
{% macro is_valid_payout_account(payout_method, payout_account) -%}
    case
        when {{ payout_method }} = 'sepa' then {{ is_valid_iban(payout_account) }}
        when {{ payout_method }} = 'paypal' then {{ is_valid_paypal_account(payout_account) }}
        else true
    end
{%- endmacro %}

{#- SPEC §2.9, the one home of the carried reason and its order: why a payable is carried
    forward instead of paid, the first that applies of terminated, suspended,
    missing_payout_details (no method or no account), invalid_payout_details (an account not
    valid for its method: is_valid_payout_account), negative_balance, below_minimum. Null when
    it is paid, and for a payable of 0 (no line, no reason). status is the partner's status in
    effect at the period's end. -#}
{% macro carried_reason(payable, status, payout_method, payout_account, has_valid_payout_account, min_payout_cents) -%}
    case
        when {{ payable }} = 0 then null
        when {{ status }} = 'terminated' then 'terminated'
        when {{ status }} = 'suspended' then 'suspended'
        when {{ payout_method }} is null or {{ payout_account }} is null then 'missing_payout_details'
        when not {{ has_valid_payout_account }} then 'invalid_payout_details'
        when {{ payable }} < 0 then 'negative_balance'
        when not coalesce({{ payable }} >= {{ min_payout_cents }}, false) then 'below_minimum'
    end
{%- endmacro %}

{#- The payout of a close: the whole payable, unless it is carried (carried_reason). -#}
{% macro payout_cents(payable, carried_reason) -%}
    case when {{ carried_reason }} is null then {{ payable }} else 0 end
{%- endmacro %}
