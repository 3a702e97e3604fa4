//! Instants on the wire: RFC 3339 text, read by a small parser of its own.
//!
//! chrono's `Deserialize` for `DateTime<Utc>` goes through its general
//! format-string parser (`parse_internal`, its item and error tables): the
//! largest part of chrono in the web app's wasm. Every instant in this API is
//! RFC 3339, so the wire types read theirs here (`#[serde(with = ...)]`);
//! writing stays chrono's.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An RFC 3339 instant (`2026-03-10T09:56:07Z`, `2026-03-10T10:56:07.25+01:00`),
/// as chrono's `FromStr` reads it: `T`, `t` or a space between date and time,
/// any number of fraction digits (nanoseconds kept), a leap second as 60.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        b.get(from..from + len)?.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if b.len() < 20
        || separators.iter().any(|&(at, c)| b[at] != c)
        || !matches!(b[10], b'T' | b't' | b' ')
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)?, num(8, 2)?)?;
    let (hour, minute, mut second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let (mut at, mut nanos) = (19, 0u32);
    if b[at] == b'.' {
        let start = at + 1;
        at = start;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 9 {
                nanos = nanos * 10 + u32::from(b[at] - b'0');
            }
            at += 1;
        }
        let digits = at - start;
        if digits == 0 {
            return None;
        }
        nanos *= 10u32.pow(9 - digits.min(9) as u32);
    }
    if second == 60 {
        // chrono's leap second: the 59th second, past its end.
        (second, nanos) = (59, nanos + 1_000_000_000);
    }
    let local = date.and_hms_nano_opt(hour, minute, second, nanos)?;
    let east = match b[at..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    Some(
        local
            .checked_sub_signed(TimeDelta::seconds(east))?
            .and_utc(),
    )
}

fn read<E: serde::de::Error>(text: &str) -> Result<DateTime<Utc>, E> {
    parse(text).ok_or_else(|| E::custom(format!("not an RFC 3339 time: {text:?}")))
}

/// `#[serde(with = "crate::wire_time")]` on a `DateTime<Utc>` field.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    at.serialize(s)
}

/// `#[serde(with = "crate::wire_time")]` on a `DateTime<Utc>` field.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    read(&String::deserialize(d)?)
}

/// `#[serde(default, with = "crate::wire_time::option")]` on an
/// `Option<DateTime<Utc>>` field.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        at.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| read(&text))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_chrono_reads() {
        for text in [
            "2026-03-10T09:56:07Z",
            "2026-03-10t09:56:07z",
            "2026-03-10 09:56:07Z",
            "2026-03-10T09:56:07.5Z",
            "2026-03-10T09:56:07.123456789Z",
            "2026-03-10T09:56:07.1234567891234Z",
            "2026-03-10T10:56:07+01:00",
            "2026-03-10T04:26:07-05:30",
            "1970-01-01T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "2024-02-29T00:00:00+23:59",
        ] {
            let chrono: DateTime<Utc> = text.parse().unwrap();
            assert_eq!(parse(text), Some(chrono), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_instant() {
        for text in [
            "",
            "2026-03-10",
            "2026-03-10T09:56:07",
            "2026-03-10T09:56:07.Z",
            "2026-02-30T09:56:07Z",
            "2026-03-10T24:00:00Z",
            "2026-03-10T09:56:07+24:00",
            "2026-03-10T09:56:07Zjunk",
            "2026-03-10T09:56:07+0100",
            "２026-03-10T09:56:07Z",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn agrees_with_chrono_on_what_chrono_writes(
            secs in -62_000_000_000i64..250_000_000_000,
            nanos in 0u32..1_000_000_000,
            east in -86_399i32..86_400,
            kind in 0usize..4,
        ) {
            let at = DateTime::from_timestamp(secs, nanos).unwrap();
            // Offsets are whole minutes in RFC 3339.
            let offset = chrono::FixedOffset::east_opt(east / 60 * 60).unwrap();
            let format = [
                chrono::SecondsFormat::Secs,
                chrono::SecondsFormat::Millis,
                chrono::SecondsFormat::Nanos,
                chrono::SecondsFormat::AutoSi,
            ][kind];
            let text = at.with_timezone(&offset).to_rfc3339_opts(format, true);
            let chrono: DateTime<Utc> = text.parse().unwrap();
            proptest::prop_assert_eq!(parse(&text), Some(chrono), "{}", text);
            let json = serde_json::to_string(&at).unwrap();
            proptest::prop_assert_eq!(read::<serde_json::Error>(json.trim_matches('"')).ok(), Some(at));
        }
    }
}
