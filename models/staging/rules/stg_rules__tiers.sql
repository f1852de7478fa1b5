select * from {{ source('rules', 'tiers') }}
