{{ validated_versions('stg_tracking__leads', ['lead_id'], 'occurred_at') }}
