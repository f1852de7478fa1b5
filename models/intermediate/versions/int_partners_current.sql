{#- The partners this run knows: the newest valid row of each, joined before the as-of.
    Status as known to the run: a non-active status counts from status_changed_at (or
    joined_at when empty), and only once that instant is before the as-of (SPEC §1.1, §2.1). -#}
with versions as (
    select * from {{ ref('int_partners_validated') }}
    where is_visible
),

with_status as (
    select
        partner_id,
        program_id,
        partner_code,
        partner_name,
        partner_email,
        partner_email_normalized,
        recruited_by,
        joined_at,
        payout_method,
        payout_account,
        status as delivered_status,
        coalesce(status_changed_at, joined_at) as status_since
    from versions
),

known as (
    select
        *,
        case
            when delivered_status != 'active' and {{ is_visible('status_since') }} then delivered_status
            else 'active'
        end as status,
        case
            when delivered_status = 'terminated' and {{ is_visible('status_since') }} then status_since
        end as terminated_at,
        case
            when delivered_status != 'active' and {{ is_visible('status_since') }} then status_since
        end as inactive_since
    from with_status
)

select * from known
