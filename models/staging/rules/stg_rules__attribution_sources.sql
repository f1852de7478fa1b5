select * from {{ source('rules', 'attribution_sources') }}
