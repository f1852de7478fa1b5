select
    upper(from_currency) as from_currency,
    upper(to_currency) as to_currency,
    valid_from,
    rate
from {{ source('rules', 'fx_rates') }}
