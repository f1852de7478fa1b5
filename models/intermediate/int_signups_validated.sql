{{ validated_versions('stg_tracking__signups', ['program_id', 'customer_key'], 'occurred_at') }}
