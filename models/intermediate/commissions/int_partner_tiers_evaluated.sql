{#- Each partner's tier for each calendar month M from the month it joined to the run's
    current month, as the data this run sees would make it (SPEC §2.6; macros/partner_tiers.sql).
    A view: the store of record, ledger_partner_tiers_monthly, evaluates only the months it has
    not frozen, with the same macro; this shows what every month would be now (for analysts,
    and for the unit tests of the rule). -#}
{{ config(materialized='view') }}

with {{ partner_tier_ctes(partner_months()) }}

select * from evaluated
