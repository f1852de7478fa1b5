{{ validated_versions('stg_tracking__clicks', ['click_id'], 'occurred_at') }}
