{{ config(post_hook="{{ analyze_table() }}") }}
-- One row per calendar day: calendar, fiscal, weekday/weekend and US federal holiday fields.
-- Fiscal year starts in month var('fiscal_year_start_month') (default 1: ACA plan years and MLR
-- reporting are calendar years); a fiscal year is named after the calendar year it ends in.
{%- set fy_start = var('fiscal_year_start_month', 1) | int %}

with spine as (
    {{ date_spine(var('date_spine_start', '2010-01-01'), var('date_spine_end', '2040-12-31')) }}
),

parts as (
    select
        date_day,
        {{ year_of('date_day') }} as calendar_year,
        cast(extract(month from date_day) as integer) as month_of_year,
        cast(extract(day from date_day) as integer) as day_of_month,
        {{ day_of_week('date_day') }} as day_of_week,  -- 0 = Sunday
        {{ day_of_year('date_day') }} as day_of_year,
        -- month/day of the neighbouring days, to find observed dates of fixed holidays
        cast(extract(month from {{ add_days('date_day', 1) }}) as integer) as next_month,
        cast(extract(day from {{ add_days('date_day', 1) }}) as integer) as next_day,
        cast(extract(month from {{ add_days('date_day', -1) }}) as integer) as prev_month,
        cast(extract(day from {{ add_days('date_day', -1) }}) as integer) as prev_day,
        {{ year_of(add_days('date_day', 1)) }} as next_year,
        {{ year_of(add_days('date_day', -1)) }} as prev_year
    from spine
),

-- US federal holidays (5 U.S.C. 6103). Fixed-date holidays falling on a Saturday are
-- observed the Friday before, on a Sunday the Monday after.
fixed_holiday_names as (
    select
        *,
        case
            when month_of_year = 1 and day_of_month = 1 then {{ text_literal("New Year's Day") }}
            when month_of_year = 6 and day_of_month = 19 and calendar_year >= 2021 then 'Juneteenth National Independence Day'
            when month_of_year = 7 and day_of_month = 4 then 'Independence Day'
            when month_of_year = 11 and day_of_month = 11 then 'Veterans Day'
            when month_of_year = 12 and day_of_month = 25 then 'Christmas Day'
        end as fixed_today,
        case
            when next_month = 1 and next_day = 1 then {{ text_literal("New Year's Day") }}
            when next_month = 6 and next_day = 19 and next_year >= 2021 then 'Juneteenth National Independence Day'
            when next_month = 7 and next_day = 4 then 'Independence Day'
            when next_month = 11 and next_day = 11 then 'Veterans Day'
            when next_month = 12 and next_day = 25 then 'Christmas Day'
        end as fixed_tomorrow,
        case
            when prev_month = 1 and prev_day = 1 then {{ text_literal("New Year's Day") }}
            when prev_month = 6 and prev_day = 19 and prev_year >= 2021 then 'Juneteenth National Independence Day'
            when prev_month = 7 and prev_day = 4 then 'Independence Day'
            when prev_month = 11 and prev_day = 11 then 'Veterans Day'
            when prev_month = 12 and prev_day = 25 then 'Christmas Day'
        end as fixed_yesterday
    from parts
),

holidays as (
    select
        *,
        case
            -- Monday-holidays and Thanksgiving: the n-th (or last) weekday of a month
            when month_of_year = 1 and day_of_week = 1 and day_of_month between 15 and 21 and calendar_year >= 1986
                then 'Birthday of Martin Luther King, Jr.'
            when month_of_year = 2 and day_of_week = 1 and day_of_month between 15 and 21 then {{ text_literal("Washington's Birthday") }}
            when month_of_year = 5 and day_of_week = 1 and day_of_month >= 25 then 'Memorial Day'
            when month_of_year = 9 and day_of_week = 1 and day_of_month <= 7 then 'Labor Day'
            when month_of_year = 10 and day_of_week = 1 and day_of_month between 8 and 14 then 'Columbus Day'
            when month_of_year = 11 and day_of_week = 4 and day_of_month between 22 and 28 then 'Thanksgiving Day'
            -- fixed-date holidays on a weekday, or observed on the Friday before / Monday after
            when fixed_today is not null and day_of_week between 1 and 5 then fixed_today
            when fixed_tomorrow is not null and day_of_week = 5 then fixed_tomorrow || ' (observed)'
            when fixed_yesterday is not null and day_of_week = 1 then fixed_yesterday || ' (observed)'
        end as holiday_name
    from fixed_holiday_names
),

final as (
    select
        date_day,
        calendar_year,
        cast(floor((month_of_year - 1) / 3.0) as integer) + 1 as calendar_quarter,
        month_of_year,
        {{ month_start('date_day') }} as month_start_date,
        cast(
            calendar_year * 100 + month_of_year as integer
        ) as year_month_number,
        day_of_month,
        day_of_week,
        case day_of_week
            when 0 then 'Sunday' when 1 then 'Monday' when 2 then 'Tuesday' when 3 then 'Wednesday'
            when 4 then 'Thursday' when 5 then 'Friday' else 'Saturday'
        end as day_name,
        day_of_year,
        day_of_week in (0, 6) as is_weekend,
        day_of_week between 1 and 5 as is_weekday,
        holiday_name is not null as is_federal_holiday,
        holiday_name,
        day_of_week between 1 and 5 and holiday_name is null as is_business_day,
        calendar_year + case when {{ fy_start }} > 1 and month_of_year >= {{ fy_start }} then 1 else 0 end
            as fiscal_year,
        ((month_of_year - {{ fy_start }} + 12) % 12) + 1 as fiscal_month,
        cast(floor((((month_of_year - {{ fy_start }} + 12) % 12)) / 3.0) as integer) + 1 as fiscal_quarter,
        next_month <> month_of_year as is_month_end
    from holidays
)

select * from final
