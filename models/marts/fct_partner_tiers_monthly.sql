{#- Tiers per partner and month (SPEC §2.6, §3.1), as the ledger holds them: frozen from the
    run that closes the month. -#}
with tiers as (
    select * from {{ ref('ledger_partner_tiers_monthly') }}
)

select * from tiers
