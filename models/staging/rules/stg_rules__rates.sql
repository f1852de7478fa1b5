select * from {{ source('rules', 'rates') }}
