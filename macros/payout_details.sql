{#- Payout account checks of SPEC §2.9, by syntax only (no national, bank or DNS checks). -#}

{#- IBAN: spaces ignored, any case; two letters, two digits, 11–30 letters or digits; ISO 13616
    mod-97 = 1 (letters A=10 … Z=35, the first four characters moved to the end). -#}
{% macro is_valid_iban(column) -%}
    {{ return(adapter.dispatch('is_valid_iban', 'partner_ledger')(column)) }}
{%- endmacro %}

{% macro default__is_valid_iban(column) -%}
    coalesce(
        regexp_full_match(upper(replace({{ column }}, ' ', '')), '[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}')
        and list_reduce(
            list_transform(
                string_split(
                    array_to_string(
                        list_transform(
                            string_split(
                                substr(upper(replace({{ column }}, ' ', '')), 5)
                                || substr(upper(replace({{ column }}, ' ', '')), 1, 4),
                                ''
                            ),
                            lambda ch: case when ch between 'A' and 'Z' then cast(ascii(ch) - 55 as varchar) else ch end
                        ),
                        ''
                    ),
                    ''
                ),
                lambda digit: cast(digit as integer)
            ),
            lambda remainder, digit: (remainder * 10 + digit) % 97,
            0
        ) = 1,
        false
    )
{%- endmacro %}

{#- PayPal: an email by syntax alone: exactly one @, a non-empty local part, a domain holding a
    dot, no whitespace. -#}
{% macro is_valid_paypal_account(column) -%}
    coalesce(regexp_full_match({{ column }}, '[^@\s]+@[^@\s]*\.[^@\s]*'), false)
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
        when 0 then cast({{ amount_cents }} as varchar)
        else (case when {{ amount_cents }} < 0 then '-' else '' end)
            || cast(abs({{ amount_cents }}) // cast(pow(10, {{ currency_minor_digits(currency) }}) as bigint) as varchar)
            || '.'
            || lpad(
                cast(abs({{ amount_cents }}) % cast(pow(10, {{ currency_minor_digits(currency) }}) as bigint) as varchar),
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
