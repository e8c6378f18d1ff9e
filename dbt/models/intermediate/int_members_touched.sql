-- Work list of the member-grain marts for this run (member_month_summary, int_member_totals):
-- the member keys of the touched claim lines, premiums and enrollment events, before and after.
with touched as (
    select member_key from {{ ref('int_claim_lines_touched') }}
    union
    select member_key from {{ ref('int_premiums_touched') }}
    union
    select member_key from {{ ref('int_events_touched') }}
)

select distinct cast(member_key as {{ text_type() }}) as member_key from touched where member_key is not null
