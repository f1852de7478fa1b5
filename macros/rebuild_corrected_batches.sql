{#- The batches a rebuild's published settlements touch (docs/decisions/0017): the batches
    restored from their published folders, and the close after the rebuild that settles the
    rebuilt history net of them. Their statements and lines reconcile with the published files
    (tests/test_rebuild.py), not entry by entry with the ledger, which after a rebuild records all
    of the earlier history on the rebuild's night. Empty on a warehouse never rebuilt. -#}
{% macro rebuild_corrected_batches() -%}
    select program_id || '-' || {{ year_month_text('period_start') }} as batch_id
    from {{ source('raw', 'published_settlements') }}
    union
    select settled_batch_id as batch_id
    from {{ ref('int_ledger_entries_settled') }}
    where entry_id is null and settled_batch_id is not null
{%- endmacro %}
