{{ validated_versions('stg_tracking__coupons', ['coupon_code', 'program_id'], 'cast(null as timestamp)') }}
