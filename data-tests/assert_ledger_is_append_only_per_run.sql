-- SPEC §2.8: a run appends at most one entry per ledger key, and an entry id is never reused.
select entry_id, count(*) as occurrences
from {{ ref('fct_ledger_entries') }}
group by entry_id
having count(*) > 1
