-- SPEC §2.1, §2.8: the ledger is history as of this run: no entry is recorded, no period closed
-- and no statement taken after the run's as-of (a run of an older night on a newer warehouse,
-- or a store rewritten by a later build, shows here).
select 'ledger_entries' as store, entry_id as row_id, recorded_at as dated
from {{ ref('ledger_entries') }}
where recorded_at > {{ as_of_date() }}
union all
select 'ledger_period_closes' as store, batch_id as row_id, closed_as_of as dated
from {{ ref('ledger_period_closes') }}
where closed_as_of > {{ as_of_date() }}
union all
select 'ledger_statements' as store, batch_id || '|' || partner_id as row_id, closed_as_of as dated
from {{ ref('ledger_statements') }}
where closed_as_of > {{ as_of_date() }}
union all
select 'ledger_partner_tiers_monthly' as store, partner_month_id as row_id, evaluated_as_of as dated
from {{ ref('ledger_partner_tiers_monthly') }}
where evaluated_as_of > {{ as_of_date() }}
