//! EventBridge schedule expressions and their next firing time.
//!
//! Rules follow the AWS references "Cron expressions reference" and "Rate expressions reference" (EventBridge
//! rules) and "Schedule types in EventBridge Scheduler". Firings have minute granularity. Expressions are
//! evaluated in UTC; [`ScheduleExpression::next_after_in`] takes a fixed offset instead, so a Scheduler
//! `ScheduleExpressionTimezone` that observes daylight saving time must be resolved (or rejected) by the caller.

use std::collections::BTreeSet;

use time::macros::format_description;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// An EventBridge schedule expression: rate(...), cron(...) (rules and Scheduler), at(...) (Scheduler only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    /// `rate(value unit)`: every `Duration`, counted from the schedule's anchor.
    Rate(Duration),
    /// `cron(Minutes Hours Day-of-month Month Day-of-week Year)`.
    Cron(Cron),
    /// `at(yyyy-mm-ddThh:mm:ss)`: once, at this wall-clock time.
    At(PrimitiveDateTime),
}

/// A parsed `cron(...)`: each set holds the values its field allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: BTreeSet<u32>,
    hours: BTreeSet<u32>,
    days: Days,
    months: BTreeSet<u32>,
    years: BTreeSet<u32>,
}

/// The day rule: AWS lets a cron restrict Day-of-month or Day-of-week, never both.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Days {
    OfMonth(BTreeSet<u32>),
    /// `L` in Day-of-month.
    LastOfMonth,
    /// `nW`: the weekday nearest to day n.
    NearestWeekday(u32),
    /// `LW`: the last weekday of the month.
    LastWeekday,
    /// Day-of-week values, 1 = Sunday.
    OfWeek(BTreeSet<u32>),
    /// `xL`: the last day x of the month.
    LastOfWeekday(u32),
    /// `x#n`: the n-th day x of the month.
    NthOfWeekday(u32, u32),
}

/// Why a schedule expression was rejected; every variant names the whole expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    #[error("schedule expression `{expression}` is not rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)")]
    UnknownForm { expression: String },
    #[error("schedule expression `{expression}`: {problem}")]
    Rate { expression: String, problem: String },
    #[error(
        "schedule expression `{expression}`: cron needs 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), \
         found {found}"
    )]
    FieldCount { expression: String, found: usize },
    #[error("schedule expression `{expression}`: {field} field `{value}`: {problem}")]
    Field { expression: String, field: &'static str, value: String, problem: String },
    #[error("schedule expression `{expression}`: exactly one of Day-of-month and Day-of-week must be `?`")]
    DayFields { expression: String },
    #[error("schedule expression `{expression}`: `{value}` is not a valid yyyy-mm-ddThh:mm:ss date-time ({problem})")]
    At { expression: String, value: String, problem: String },
}

impl ScheduleExpression {
    /// Parses `rate(...)`, `cron(...)` or `at(...)`, rejecting what AWS would reject.
    pub fn parse(text: &str) -> Result<Self, ExpressionError> {
        let expression = text.trim();
        let body = |prefix: &str| expression.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(')'));
        if let Some(body) = body("rate(") {
            parse_rate(body)
                .map(Self::Rate)
                .map_err(|problem| ExpressionError::Rate { expression: expression.into(), problem })
        } else if let Some(body) = body("cron(") {
            Cron::parse(body, expression).map(Self::Cron)
        } else if let Some(body) = body("at(") {
            let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            PrimitiveDateTime::parse(body, format).map(Self::At).map_err(|error| ExpressionError::At {
                expression: expression.into(),
                value: body.into(),
                problem: error.to_string(),
            })
        } else {
            Err(ExpressionError::UnknownForm { expression: expression.into() })
        }
    }

    /// The first firing strictly after `after`, or `None` when there is none (at() passed, cron years exhausted).
    /// For rate(), firings are `anchor + n * rate` (anchor = when the schedule was created).
    pub fn next_after(&self, after: OffsetDateTime, anchor: OffsetDateTime) -> Option<OffsetDateTime> {
        self.next_after_in(after, anchor, UtcOffset::UTC)
    }

    /// Like [`Self::next_after`], with cron() and at() read as wall-clock times at a fixed `offset`.
    pub fn next_after_in(
        &self,
        after: OffsetDateTime,
        anchor: OffsetDateTime,
        offset: UtcOffset,
    ) -> Option<OffsetDateTime> {
        match self {
            Self::Rate(every) => {
                let every = every.whole_nanoseconds();
                if every <= 0 {
                    return None;
                }
                // n >= 0: the anchor itself is the first firing (Scheduler's StartDate is the first occurrence).
                let n = ((after - anchor).whole_nanoseconds().div_euclid(every) + 1).max(0);
                let since_anchor = n.checked_mul(every)?;
                let seconds = i64::try_from(since_anchor.div_euclid(1_000_000_000)).ok()?;
                let nanoseconds = i32::try_from(since_anchor.rem_euclid(1_000_000_000)).ok()?;
                anchor.checked_add(Duration::new(seconds, nanoseconds))
            }
            Self::Cron(cron) => {
                let local = after.checked_to_offset(offset)?;
                cron.next_after(PrimitiveDateTime::new(local.date(), local.time()))
                    .map(|next| next.assume_offset(offset))
            }
            Self::At(at) => Some(at.assume_offset(offset)).filter(|at| *at > after),
        }
    }
}

fn parse_rate(body: &str) -> Result<Duration, String> {
    let [value, unit] = body.split_whitespace().collect::<Vec<_>>()[..] else {
        return Err(format!("rate needs `value unit`, got `{body}`"));
    };
    let count = positive(value).ok_or_else(|| format!("rate value `{value}` is not a positive integer"))?;
    let (seconds, singular) = match unit {
        "minute" => (60, true),
        "minutes" => (60, false),
        "hour" => (3_600, true),
        "hours" => (3_600, false),
        "day" => (86_400, true),
        "days" => (86_400, false),
        _ => return Err(format!("rate unit `{unit}` is not minute(s), hour(s) or day(s)")),
    };
    // The rate reference: "If the value is equal to 1, then the unit must be singular", plural otherwise.
    match (count == 1, singular) {
        (true, false) => Err(format!("rate unit must be singular for value 1: `{}`", unit.trim_end_matches('s'))),
        (false, true) => Err(format!("rate unit must be plural for value {count}: `{unit}s`")),
        _ => Ok(Duration::seconds(i64::from(count) * seconds)),
    }
}

/// A positive decimal integer, without sign or other characters.
fn positive(text: &str) -> Option<u32> {
    text.bytes().all(|byte| byte.is_ascii_digit()).then(|| text.parse().ok()).flatten().filter(|&value| value > 0)
}

/// One cron field's name (as in the AWS table), range and optional names for its values.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Field = Field { name: "Minutes", min: 0, max: 59, names: &[] };
const HOURS: Field = Field { name: "Hours", min: 0, max: 23, names: &[] };
const DAY_OF_MONTH: Field = Field { name: "Day-of-month", min: 1, max: 31, names: &[] };
const MONTH: Field = Field {
    name: "Month",
    min: 1,
    max: 12,
    names: &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
};
const DAY_OF_WEEK: Field =
    Field { name: "Day-of-week", min: 1, max: 7, names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] };
const YEAR: Field = Field { name: "Year", min: 1970, max: 2199, names: &[] };

impl Field {
    /// A `,`-separated list of `*`, `v`, `a-b`, each optionally followed by `/step` (`a/step` runs to the maximum).
    fn parse_set(&self, text: &str) -> Result<BTreeSet<u32>, String> {
        let mut set = BTreeSet::new();
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (item, None),
            };
            let (first, last) = match range.split_once('-') {
                _ if range == "*" => (self.min, self.max),
                Some((first, last)) => (self.value(first)?, self.value(last)?),
                None => {
                    let value = self.value(range)?;
                    (value, if step.is_some() { self.max } else { value })
                }
            };
            if first > last {
                return Err(format!("range `{range}` runs backwards"));
            }
            let step = match step {
                Some(step) => positive(step).ok_or_else(|| format!("increment `{step}` is not a positive integer"))?,
                None => 1,
            };
            set.extend((first..=last).step_by(step as usize));
        }
        Ok(set)
    }

    fn value(&self, text: &str) -> Result<u32, String> {
        if text.is_empty() {
            return Err("a value is missing".into());
        }
        let named =
            self.names.iter().position(|name| name.eq_ignore_ascii_case(text)).map(|index| self.min + index as u32);
        let number = text.bytes().all(|byte| byte.is_ascii_digit()).then(|| text.parse().ok()).flatten();
        match named.or(number) {
            Some(value) if (self.min..=self.max).contains(&value) => Ok(value),
            Some(_) => Err(format!("`{text}` is outside {}-{}", self.min, self.max)),
            None if self.names.is_empty() => Err(format!("`{text}` is not a number")),
            None => Err(format!("`{text}` is not a number or {}-{}", self.names[0], self.names[self.names.len() - 1])),
        }
    }
}

impl Cron {
    fn parse(body: &str, expression: &str) -> Result<Self, ExpressionError> {
        let fields = body.split_whitespace().collect::<Vec<_>>();
        let [minutes, hours, day_of_month, months, day_of_week, years] = fields[..] else {
            return Err(ExpressionError::FieldCount { expression: expression.into(), found: fields.len() });
        };
        let invalid = |field: &Field, value: &str| {
            let (field, value) = (field.name, value.to_string());
            move |problem| ExpressionError::Field { expression: expression.into(), field, value, problem }
        };
        let days = match (day_of_month, day_of_week) {
            ("?", "?") => return Err(ExpressionError::DayFields { expression: expression.into() }),
            ("?", text) => parse_day_of_week(text).map_err(invalid(&DAY_OF_WEEK, text))?,
            (text, "?") => parse_day_of_month(text).map_err(invalid(&DAY_OF_MONTH, text))?,
            _ => return Err(ExpressionError::DayFields { expression: expression.into() }),
        };
        Ok(Self {
            minutes: MINUTES.parse_set(minutes).map_err(invalid(&MINUTES, minutes))?,
            hours: HOURS.parse_set(hours).map_err(invalid(&HOURS, hours))?,
            days,
            months: MONTH.parse_set(months).map_err(invalid(&MONTH, months))?,
            years: YEAR.parse_set(years).map_err(invalid(&YEAR, years))?,
        })
    }

    /// The first whole minute after `after` that matches every field; skips whole years, months, days and hours.
    fn next_after(&self, after: PrimitiveDateTime) -> Option<PrimitiveDateTime> {
        let start = after.replace_nanosecond(0).ok()?.replace_second(0).ok()?.checked_add(Duration::MINUTE)?;
        let mut year = u32::try_from(start.year()).unwrap_or(0);
        let (mut month, mut day) = (u32::from(u8::from(start.month())), u32::from(start.day()));
        let (mut hour, mut minute) = (u32::from(start.hour()), u32::from(start.minute()));
        // Each pass returns or moves to the start of a later hour, day, month or year (an overflowing value such as
        // month 13 finds no match and carries over), so the loop ends once the years run out.
        loop {
            let next_year = *self.years.range(year..).next()?;
            if next_year != year {
                (year, month, day, hour, minute) = (next_year, 1, 1, 0, 0);
            }
            let Some(&next_month) = self.months.range(month..).next() else {
                (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0);
                continue;
            };
            if next_month != month {
                (month, day, hour, minute) = (next_month, 1, 0, 0);
            }
            let calendar = (i32::try_from(year).ok()?, Month::try_from(u8::try_from(month).ok()?).ok()?);
            let Some(next_day) = next_bit(self.days.in_month(calendar.0, calendar.1), day) else {
                (month, day, hour, minute) = (month + 1, 1, 0, 0);
                continue;
            };
            if next_day != day {
                (day, hour, minute) = (next_day, 0, 0);
            }
            let Some(&next_hour) = self.hours.range(hour..).next() else {
                (day, hour, minute) = (day + 1, 0, 0);
                continue;
            };
            if next_hour != hour {
                (hour, minute) = (next_hour, 0);
            }
            let Some(&next_minute) = self.minutes.range(minute..).next() else {
                (hour, minute) = (hour + 1, 0);
                continue;
            };
            let date = Date::from_calendar_date(calendar.0, calendar.1, u8::try_from(day).ok()?).ok()?;
            return date.with_hms(u8::try_from(hour).ok()?, u8::try_from(next_minute).ok()?, 0).ok();
        }
    }
}

fn parse_day_of_month(text: &str) -> Result<Days, String> {
    match text {
        "L" => Ok(Days::LastOfMonth),
        "LW" => Ok(Days::LastWeekday),
        _ => match text.strip_suffix('W') {
            Some(day) => DAY_OF_MONTH.value(day).map(Days::NearestWeekday),
            None if text.contains('L') => Err("`L` must stand alone (or as `LW`)".into()),
            None => DAY_OF_MONTH.parse_set(text).map(Days::OfMonth),
        },
    }
}

fn parse_day_of_week(text: &str) -> Result<Days, String> {
    if text == "L" {
        // Alone, `L` is the last day of the week: Saturday.
        return Ok(Days::OfWeek(BTreeSet::from([7])));
    }
    if text.contains(['#', 'L']) && text.contains([',', '-', '/', '*']) {
        return Err("`#` and `L` take a single day, as in `3#2` or `6L`".into());
    }
    if let Some((day, nth)) = text.split_once('#') {
        let nth = positive(nth).filter(|&nth| nth <= 5).ok_or_else(|| format!("`#{nth}` is not an occurrence 1-5"))?;
        return Ok(Days::NthOfWeekday(DAY_OF_WEEK.value(day)?, nth));
    }
    match text.strip_suffix('L') {
        Some(day) => DAY_OF_WEEK.value(day).map(Days::LastOfWeekday),
        None => DAY_OF_WEEK.parse_set(text).map(Days::OfWeek),
    }
}

impl Days {
    /// The matching days of one month, as bit `day` set.
    fn in_month(&self, year: i32, month: Month) -> u64 {
        let length = u32::from(month.length(year));
        let first = Date::from_calendar_date(year, month, 1).map_or(1, |date| date.weekday().number_from_sunday());
        // 1 = Sunday, as in the Day-of-week field.
        let weekday = |day: u32| (u32::from(first) + day - 2) % 7 + 1;
        // Nearest Monday-Friday without leaving the month: a Saturday 1st moves to Monday the 3rd.
        let nearest_weekday = |day: u32| match weekday(day) {
            7 if day > 1 => day - 1,
            7 => day + 2,
            1 if day < length => day + 1,
            1 => day - 2,
            _ => day,
        };
        (1..=length)
            .filter(|&day| match self {
                Days::OfMonth(days) => days.contains(&day),
                Days::LastOfMonth => day == length,
                Days::NearestWeekday(wanted) => *wanted <= length && day == nearest_weekday(*wanted),
                Days::LastWeekday => day == nearest_weekday(length),
                Days::OfWeek(days) => days.contains(&weekday(day)),
                Days::LastOfWeekday(wanted) => weekday(day) == *wanted && day + 7 > length,
                Days::NthOfWeekday(wanted, nth) => weekday(day) == *wanted && (day - 1) / 7 + 1 == *nth,
            })
            .fold(0, |bits, day| bits | 1 << day)
    }
}

/// The lowest set bit at or above `from`.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    let rest = bits & u64::MAX.checked_shl(from).unwrap_or(0);
    (rest != 0).then(|| rest.trailing_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    fn parse(text: &str) -> ScheduleExpression {
        ScheduleExpression::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    /// The next firing of a cron or at() expression after `after`.
    fn next(text: &str, after: OffsetDateTime) -> Option<OffsetDateTime> {
        parse(text).next_after(after, after)
    }

    #[test]
    fn parses_the_documented_examples() {
        for text in [
            "cron(0 10 * * ? *)",
            "cron(15 12 * * ? *)",
            "cron(0 18 ? * MON-FRI *)",
            "cron(0 8 1 * ? *)",
            "cron(0/15 * * * ? *)",
            "cron(0/10 * ? * MON-FRI *)",
            "cron(0/5 8-17 ? * MON-FRI *)",
            "cron(0 9 ? * 2#1 *)",
            "cron(0 0 L * ? *)",
            "cron(0 0 ? * 6L *)",
            "cron(0 0 15W * ? *)",
            "cron(0 0 3W * ? *)",
            "cron(0 0 ? * 3#2 *)",
            "cron(0 0 1 JAN,FEB,MAR ? 2026-2030)",
            "cron(1/10 * * * ? *)",
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(1 hour)",
            "rate(12 hours)",
            "rate(1 day)",
            "rate(7 days)",
            "at(2026-03-11T10:21:00)",
        ] {
            parse(text);
        }
        assert_eq!(parse("rate(5 minutes)"), ScheduleExpression::Rate(Duration::minutes(5)));
        assert_eq!(parse("at(2026-03-11T10:21:00)"), ScheduleExpression::At(datetime!(2026-03-11 10:21:00)));
    }

    #[test]
    fn rejects_invalid_expressions() {
        for text in [
            "every 5 minutes",
            "rate(5 minutes",
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(1 hours)",
            "rate(0 minutes)",
            "rate(-5 minutes)",
            "rate(+5 minutes)",
            "rate(5 weeks)",
            "rate(5)",
            "cron(0 10 * * ?)",
            "cron(0 10 * * ? * *)",
            "cron(0 10 * * * *)",
            "cron(0 10 ? * ? *)",
            "cron(0 10 1 * MON *)",
            "cron(60 10 * * ? *)",
            "cron(0 24 * * ? *)",
            "cron(0 0 0 * ? *)",
            "cron(0 0 32 * ? *)",
            "cron(0 0 1 13 ? *)",
            "cron(0 0 1 FOO ? *)",
            "cron(0 0 ? * 0 *)",
            "cron(0 0 ? * 8 *)",
            "cron(0 0 1 * ? 1969)",
            "cron(0 0 1 * ? 2200)",
            "cron(0 0 10-5 * ? *)",
            "cron(0/0 * * * ? *)",
            "cron(0,,5 * * * ? *)",
            "cron(0 0 ? * 3#1,6#3 *)",
            "cron(0 0 ? * 2#6 *)",
            "cron(0 0 ? * 2#0 *)",
            "cron(0 0 ? * MON-FRIL *)",
            "cron(0 0 L,15 * ? *)",
            "cron(0 0 1,15W * ? *)",
            "cron(0 0 32W * ? *)",
            "at(2026-13-01T00:00:00)",
            "at(2026-02-30T00:00:00)",
            "at(2026-03-11 10:21:00)",
            "at(tomorrow)",
        ] {
            assert!(ScheduleExpression::parse(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn errors_name_the_expression_field_and_value() {
        let error = ScheduleExpression::parse("cron(0 25 * * ? *)").unwrap_err();
        assert_eq!(
            error.to_string(),
            "schedule expression `cron(0 25 * * ? *)`: Hours field `25`: `25` is outside 0-23"
        );
        let error = ScheduleExpression::parse("rate(1 minutes)").unwrap_err();
        assert_eq!(
            error.to_string(),
            "schedule expression `rate(1 minutes)`: rate unit must be singular for value 1: `minute`"
        );
        let error = ScheduleExpression::parse("cron(0 0 ? * 3#1,6#3 *)").unwrap_err();
        assert!(matches!(error, ExpressionError::Field { field: "Day-of-week", .. }), "{error}");
        let error = ScheduleExpression::parse("cron(0 10 * * * *)").unwrap_err();
        assert!(matches!(error, ExpressionError::DayFields { .. }), "{error}");
    }

    #[test]
    fn cron_crosses_day_month_and_year_boundaries() {
        let daily = "cron(0 10 * * ? *)";
        assert_eq!(next(daily, datetime!(2024-06-01 09:59:59 UTC)), Some(datetime!(2024-06-01 10:00 UTC)));
        assert_eq!(next(daily, datetime!(2024-06-01 10:00 UTC)), Some(datetime!(2024-06-02 10:00 UTC)));
        assert_eq!(next(daily, datetime!(2024-12-31 10:00 UTC)), Some(datetime!(2025-01-01 10:00 UTC)));
        let quarter = "cron(0/15 * * * ? *)";
        assert_eq!(next(quarter, datetime!(2024-06-01 10:07:30 UTC)), Some(datetime!(2024-06-01 10:15 UTC)));
        assert_eq!(next(quarter, datetime!(2024-12-31 23:45 UTC)), Some(datetime!(2025-01-01 00:00 UTC)));
        assert_eq!(
            next("cron(1/10 * * * ? *)", datetime!(2024-06-01 10:01 UTC)),
            Some(datetime!(2024-06-01 10:11 UTC))
        );
        // Friday 2025-01-31 17:55 is the last firing of the week; the next is Monday 08:00, in February.
        let office = "cron(0/5 8-17 ? * MON-FRI *)";
        assert_eq!(next(office, datetime!(2025-01-31 17:50 UTC)), Some(datetime!(2025-01-31 17:55 UTC)));
        assert_eq!(next(office, datetime!(2025-01-31 17:55 UTC)), Some(datetime!(2025-02-03 08:00 UTC)));
        assert_eq!(next("cron(0 0 31 * ? *)", datetime!(2025-03-31 00:00 UTC)), Some(datetime!(2025-05-31 00:00 UTC)));
        assert_eq!(
            next("cron(0 8 1 JAN,JUL ? *)", datetime!(2025-01-01 08:00 UTC)),
            Some(datetime!(2025-07-01 08:00 UTC))
        );
    }

    #[test]
    fn cron_handles_leap_years() {
        assert_eq!(next("cron(0 0 L * ? *)", datetime!(2024-02-01 00:00 UTC)), Some(datetime!(2024-02-29 00:00 UTC)));
        assert_eq!(next("cron(0 0 L * ? *)", datetime!(2023-02-01 00:00 UTC)), Some(datetime!(2023-02-28 00:00 UTC)));
        assert_eq!(next("cron(0 0 L * ? *)", datetime!(2024-02-29 00:00 UTC)), Some(datetime!(2024-03-31 00:00 UTC)));
        assert_eq!(next("cron(30 6 29 2 ? *)", datetime!(2024-02-29 06:30 UTC)), Some(datetime!(2028-02-29 06:30 UTC)));
        // 2100 is not a leap year.
        assert_eq!(
            next("cron(0 0 29 FEB ? *)", datetime!(2096-03-01 00:00 UTC)),
            Some(datetime!(2104-02-29 00:00 UTC))
        );
        assert_eq!(next("cron(0 0 30 2 ? *)", datetime!(2024-01-01 00:00 UTC)), None);
    }

    #[test]
    fn cron_last_weekday_and_nth() {
        // Last Friday: 2025-01-31, then 2025-02-28.
        let last_friday = "cron(0 0 ? * 6L *)";
        assert_eq!(next(last_friday, datetime!(2025-01-01 00:00 UTC)), Some(datetime!(2025-01-31 00:00 UTC)));
        assert_eq!(next(last_friday, datetime!(2025-01-31 00:00 UTC)), Some(datetime!(2025-02-28 00:00 UTC)));
        // `L` alone in Day-of-week is Saturday.
        assert_eq!(next("cron(0 0 ? * L *)", datetime!(2025-01-01 00:00 UTC)), Some(datetime!(2025-01-04 00:00 UTC)));
        // 15W: Saturday 2025-02-15 moves back to Friday the 14th; Sunday 2025-06-15 forward to Monday the 16th.
        let w15 = "cron(0 0 15W * ? *)";
        assert_eq!(next(w15, datetime!(2025-02-01 00:00 UTC)), Some(datetime!(2025-02-14 00:00 UTC)));
        assert_eq!(next(w15, datetime!(2025-06-01 00:00 UTC)), Some(datetime!(2025-06-16 00:00 UTC)));
        assert_eq!(next(w15, datetime!(2025-01-01 00:00 UTC)), Some(datetime!(2025-01-15 00:00 UTC)));
        // W never leaves the month: Saturday 2025-03-01 gives Monday the 3rd, Sunday 2025-08-31 Friday the 29th.
        assert_eq!(next("cron(0 0 1W * ? *)", datetime!(2025-02-28 00:00 UTC)), Some(datetime!(2025-03-03 00:00 UTC)));
        assert_eq!(next("cron(0 0 31W * ? *)", datetime!(2025-08-01 00:00 UTC)), Some(datetime!(2025-08-29 00:00 UTC)));
        // LW: the last day of 2026-02 is a Saturday.
        assert_eq!(next("cron(0 0 LW * ? *)", datetime!(2026-02-01 00:00 UTC)), Some(datetime!(2026-02-27 00:00 UTC)));
        // First Monday of the month, 09:00.
        let first_monday = "cron(0 9 ? * 2#1 *)";
        assert_eq!(next(first_monday, datetime!(2025-01-01 00:00 UTC)), Some(datetime!(2025-01-06 09:00 UTC)));
        assert_eq!(next(first_monday, datetime!(2025-01-06 09:00 UTC)), Some(datetime!(2025-02-03 09:00 UTC)));
        // A fifth Thursday exists only in some months: 2025-01-30, then 2025-05-29.
        let fifth_thursday = "cron(0 0 ? * THU#5 *)";
        assert_eq!(next(fifth_thursday, datetime!(2025-01-01 00:00 UTC)), Some(datetime!(2025-01-30 00:00 UTC)));
        assert_eq!(next(fifth_thursday, datetime!(2025-01-30 00:00 UTC)), Some(datetime!(2025-05-29 00:00 UTC)));
    }

    #[test]
    fn cron_ends_with_its_years() {
        let once = "cron(0 0 1 1 ? 2030)";
        assert_eq!(next(once, datetime!(2020-05-05 00:00 UTC)), Some(datetime!(2030-01-01 00:00 UTC)));
        assert_eq!(next(once, datetime!(2030-01-01 00:00 UTC)), None);
        assert_eq!(next("cron(59 23 31 12 ? *)", datetime!(2199-12-31 23:59 UTC)), None);
        assert_eq!(next("cron(0 0 1 1 ? *)", datetime!(1900-01-01 00:00 UTC)), Some(datetime!(1970-01-01 00:00 UTC)));
    }

    #[test]
    fn cron_and_at_read_a_fixed_offset() {
        let nine = parse("cron(0 9 * * ? *)");
        let after = datetime!(2025-01-01 08:00 UTC);
        assert_eq!(nine.next_after_in(after, after, offset!(+2)), Some(datetime!(2025-01-02 07:00 UTC)));
        let at = parse("at(2025-01-01T09:30:00)");
        assert_eq!(at.next_after_in(after, after, offset!(+1)), Some(datetime!(2025-01-01 08:30 UTC)));
        assert_eq!(at.next_after_in(after, after, offset!(+2)), None);
    }

    #[test]
    fn rate_counts_from_the_anchor() {
        let every5 = parse("rate(5 minutes)");
        let anchor = datetime!(2025-01-01 10:00:30 UTC);
        assert_eq!(
            every5.next_after(datetime!(2025-01-01 10:07 UTC), anchor),
            Some(datetime!(2025-01-01 10:10:30 UTC))
        );
        assert_eq!(
            every5.next_after(datetime!(2025-01-01 10:10:30 UTC), anchor),
            Some(datetime!(2025-01-01 10:15:30 UTC))
        );
        assert_eq!(every5.next_after(datetime!(2024-12-01 00:00 UTC), anchor), Some(anchor));
        assert_eq!(every5.next_after(anchor, anchor), Some(datetime!(2025-01-01 10:05:30 UTC)));
        let daily = parse("rate(1 day)");
        assert_eq!(
            daily.next_after(datetime!(2025-03-01 10:00:30 UTC), anchor),
            Some(datetime!(2025-03-02 10:00:30 UTC))
        );
        assert_eq!(ScheduleExpression::Rate(Duration::ZERO).next_after(anchor, anchor), None);
    }

    #[test]
    fn at_fires_once() {
        let at = parse("at(2026-03-11T10:21:00)");
        let anchor = datetime!(2026-01-01 00:00 UTC);
        assert_eq!(at.next_after(datetime!(2026-03-11 10:20:59 UTC), anchor), Some(datetime!(2026-03-11 10:21 UTC)));
        assert_eq!(at.next_after(datetime!(2026-03-11 10:21 UTC), anchor), None);
        assert_eq!(at.next_after(datetime!(2027-01-01 00:00 UTC), anchor), None);
    }
}
