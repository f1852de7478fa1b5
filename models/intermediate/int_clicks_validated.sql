{#- Versions of clicks for this run (a view: each consumer reads only what it needs). -#}
{{ config(materialized='view') }}

{{ validated_versions('int_clicks_parsed', ['click_id'], 'occurred_at') }}
