{{ validated_versions('stg_tracking__clicks', ['click_id'], 'occurred_at', raw_text_of_rejects_only=true) }}
