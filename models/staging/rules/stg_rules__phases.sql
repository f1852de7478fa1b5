select * from {{ source('rules', 'phases') }}
