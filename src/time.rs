//! Times shown to the advisor, in the advisor's own time zone.
//!
//! The browser's `Date` does the time-zone work (no time-zone tables in the
//! download). "Today" and "Yesterday" are judged against the *server's*
//! clock, which every consent answer carries: in the sandbox that clock can be
//! moved forward, and the 24-hour rules follow it, not the advisor's PC.

use chrono::{DateTime, Utc};
use js_sys::Date;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn local(at: DateTime<Utc>) -> Date {
    Date::new(&(at.timestamp_millis() as f64).into())
}

/// A calendar day in the local time zone, comparable across months.
fn local_day(date: &Date) -> (u32, u32, u32) {
    (date.get_full_year(), date.get_month(), date.get_date())
}

fn days_between(earlier: &Date, later: &Date) -> i64 {
    // Local midnights, so a day is a calendar day even across DST changes.
    let midnight = |d: &Date| {
        Date::new_with_year_month_day(d.get_full_year(), d.get_month() as i32, d.get_date() as i32)
            .get_time()
    };
    ((midnight(later) - midnight(earlier)) / 86_400_000.0).round() as i64
}

/// "09:56 AM" in the local time zone.
pub fn clock_time(at: DateTime<Utc>) -> String {
    let date = local(at);
    let hours = date.get_hours();
    let (hour12, half) = match hours {
        0 => (12, "AM"),
        1..=11 => (hours, "AM"),
        12 => (12, "PM"),
        _ => (hours - 12, "PM"),
    };
    format!("{hour12:02}:{:02} {half}", date.get_minutes())
}

/// "Today", "Yesterday", "Tomorrow", or "Mar 3" / "Mar 3, 2023" (seen from `now`).
pub fn day_label(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let (date, today) = (local(at), local(now));
    match days_between(&today, &date) {
        0 => "Today".to_owned(),
        -1 => "Yesterday".to_owned(),
        1 => "Tomorrow".to_owned(),
        _ => {
            let (year, month, day) = local_day(&date);
            let month = MONTHS[month as usize % 12];
            if year == today.get_full_year() {
                format!("{month} {day}")
            } else {
                format!("{month} {day}, {year}")
            }
        }
    }
}

/// "09:56:07 AM" in the local time zone: evidence is read to the second.
pub fn clock_time_seconds(at: DateTime<Utc>) -> String {
    let time = clock_time(at);
    let (hm, half) = time.split_at(5);
    format!("{hm}:{:02}{half}", local(at).get_seconds())
}

/// "Today, 09:56:07 AM": a stamp for evidence.
pub fn precise_stamp(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{}, {}", day_label(at, now), clock_time_seconds(at))
}

/// "Today, 09:56 AM": the stamp the advisor's tools use.
pub fn stamp(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{}, {}", day_label(at, now), clock_time(at))
}

/// "in 3 h 20 min", "in 12 min", "in less than a minute".
pub fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (at - now).num_minutes();
    match minutes {
        m if m < 1 => "in less than a minute".to_owned(),
        m if m < 60 => format!("in {m} min"),
        m if m % 60 == 0 => format!("in {} h", m / 60),
        m => format!("in {} h {} min", m / 60, m % 60),
    }
}

/// The start of a calendar day in the local time zone, from a date input's
/// `YYYY-MM-DD`, moved `days_after` days on (1: the end of that day).
pub fn local_day_start(value: &str, days_after: i32) -> Option<DateTime<Utc>> {
    let mut parts = value.trim().splitn(3, '-').map(str::parse::<i32>);
    let (year, month, day) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    let date = Date::new_with_year_month_day(year as u32, month - 1, day + days_after);
    DateTime::from_timestamp_millis(date.get_time() as i64)
}

/// The local time a `datetime-local` input gives (`2026-03-10T09:56`), as UTC.
pub fn from_local_input(value: &str) -> Option<DateTime<Utc>> {
    let (date, time) = value.trim().split_once('T')?;
    let mut day = date.splitn(3, '-').map(str::parse::<i32>);
    let mut clock = time
        .splitn(3, ':')
        .map(|p| p.split('.').next().unwrap_or(p).parse::<i32>());
    let (year, month, day) = (day.next()?.ok()?, day.next()?.ok()?, day.next()?.ok()?);
    let (hours, minutes) = (clock.next()?.ok()?, clock.next()?.ok()?);
    let seconds = clock.next().and_then(Result::ok).unwrap_or(0);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    let date = Date::new_with_year_month_day_hr_min_sec(
        year as u32,
        month - 1,
        day,
        hours,
        minutes,
        seconds,
    );
    DateTime::from_timestamp_millis(date.get_time() as i64)
}

/// An instant as a `datetime-local` input shows it, in the local time zone.
pub fn to_local_input(at: DateTime<Utc>) -> String {
    let date = local(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes()
    )
}

/// The browser's clock now, as UTC.
pub fn local_now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Date::now() as i64).unwrap_or_default()
}

/// The server's clock estimated from one reading: the server said
/// `server_now` when the browser's clock said `read_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerClock {
    server_now: DateTime<Utc>,
    read_at: DateTime<Utc>,
}

impl ServerClock {
    /// A clock anchored to a server answer received just now.
    pub fn read(server_now: DateTime<Utc>) -> Self {
        Self {
            server_now,
            read_at: local_now(),
        }
    }

    /// A clock anchored to an explicit reading (tests).
    pub fn fixed(server_now: DateTime<Utc>, read_at: DateTime<Utc>) -> Self {
        Self {
            server_now,
            read_at,
        }
    }

    /// The server's time when the browser's clock shows `local`.
    pub fn at(&self, local: DateTime<Utc>) -> DateTime<Utc> {
        self.server_now + (local - self.read_at)
    }

    /// The server's time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(local_now())
    }

    /// Milliseconds of the browser's clock until the server's clock shows `at`.
    pub fn millis_until(&self, at: DateTime<Utc>) -> i64 {
        (at - self.now()).num_milliseconds()
    }
}
