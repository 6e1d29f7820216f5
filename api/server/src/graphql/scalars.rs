//! Custom scalars shared by every part of the schema.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use opsledger_domain::Timestamp;

/// A UTC instant on the wire as RFC 3339 with milliseconds (`2024-05-01T12:00:00.000Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub Timestamp);

/// An instant in RFC 3339, e.g. `2024-05-01T12:00:00.000Z`. Output is always UTC with
/// milliseconds; input may carry an offset (`+02:00`, normalised to UTC) and up to 9
/// fractional digits (truncated to milliseconds), within 1970-01-01 ..= 9999-12-31 (UTC).
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => parse_rfc3339(text)
                .map(|ms| DateTime(Timestamp(ms)))
                .ok_or_else(|| {
                    // The value is named (bounded) because async-graphql does not name
                    // the input field of a variable that fails to parse.
                    let shown: String = text.chars().take(40).collect();
                    InputValueError::custom(format!(
                        "{shown:?} is not an RFC 3339 date-time between 1970-01-01T00:00:00Z \
                         and 9999-12-31T23:59:59.999Z (e.g. 2024-05-01T12:00:00Z or \
                         2024-05-01T14:00:00.5+02:00)"
                    ))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(format_rfc3339(self.0 .0))
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// Parses an RFC 3339 `date-time` into epoch milliseconds (UTC).
///
/// Accepted: exactly `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)` with a
/// four-digit year and two-digit fields (`T`/`Z` in either case, as RFC 3339
/// allows), a real calendar date, and an offset that is normalised to UTC
/// (`-00:00` reads as UTC). Fractional seconds beyond milliseconds are
/// truncated. A leap second (`:60`) is refused. The UTC result must lie in
/// 1970-01-01T00:00:00.000Z ..= 9999-12-31T23:59:59.999Z
/// ([`opsledger_domain::time::MIN_ACCEPTED`] ..= `MAX_ACCEPTED`).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b.len() > 35 || !text.is_ascii() {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    let separators = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't')
        && b[13] == b':'
        && b[16] == b':';
    if !separators {
        return None;
    }
    let (millis, rest) = fraction(&b[19..])?;
    let offset_minutes = offset(rest)?;
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let ms = days_from_civil(year, month, day) * MS_PER_DAY
        + hour * 3_600_000
        + minute * 60_000
        + second * 1000
        + millis
        - offset_minutes * 60_000;
    Timestamp(ms).is_accepted().then_some(ms)
}

/// The number written by exactly `len` ASCII digits at `at`.
fn digits(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let field = b.get(at..at + len)?;
    field.iter().try_fold(0i64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
    })
}

/// Optional `.f{1,9}` at the start of `b`: (milliseconds, the rest).
fn fraction(b: &[u8]) -> Option<(i64, &[u8])> {
    let Some(after_dot) = b.strip_prefix(b".") else {
        return Some((0, b));
    };
    let n = after_dot.iter().take_while(|d| d.is_ascii_digit()).count();
    if n == 0 || n > 9 {
        return None;
    }
    let millis = (0..3).fold(0i64, |ms, i| {
        let digit = after_dot.get(i).filter(|_| i < n).map_or(0, |d| d - b'0');
        ms * 10 + i64::from(digit)
    });
    Some((millis, &after_dot[n..]))
}

/// `Z`, `z` or `±HH:MM` (the whole rest): the offset east of UTC, in minutes.
fn offset(b: &[u8]) -> Option<i64> {
    match b {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let hours = digits(b, 1, 2)?;
            let minutes = digits(b, 4, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let east = hours * 60 + minutes;
            Some(if *sign == b'+' { east } else { -east })
        }
        _ => None,
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_and_leap_day() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(1_709_210_096_789),
            "2024-02-29T12:34:56.789Z"
        );
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parse_is_the_inverse_of_format() {
        for ms in [0, 1_709_210_096_789, 951_782_400_000, 4_102_444_800_000] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Some(ms));
        }
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56Z"),
            Some(1_709_210_096_000)
        );
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-04-31T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01T24:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01T23:59:60Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let utc = parse_rfc3339("2024-05-01T12:00:00Z").unwrap();
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00+00:00"), Some(utc));
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00-00:00"), Some(utc));
        assert_eq!(parse_rfc3339("2024-05-01T14:00:00+02:00"), Some(utc));
        assert_eq!(parse_rfc3339("2024-05-01T06:30:00-05:30"), Some(utc));
        assert_eq!(parse_rfc3339("2024-05-01t12:00:00z"), Some(utc));
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00+24:00"), None);
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00+02:60"), None);
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00+0200"), None);
    }

    #[test]
    fn fractional_seconds_up_to_nine_digits_are_truncated_to_milliseconds() {
        let utc = parse_rfc3339("2024-05-01T12:00:00Z").unwrap();
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00.5Z"), Some(utc + 500));
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:00.123456789Z"),
            Some(utc + 123)
        );
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00.1234567890Z"), None);
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00.Z"), None);
    }

    #[test]
    fn only_the_rfc_3339_shape_is_accepted() {
        for bad in [
            "2024-1-1T0:0:0Z",
            "+2024-01-01T00:00:00Z",
            "02024-01-01T00:00:00Z",
            "9223372036854775807-01-01T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00Z",
            "2024-01-01T00:00:00ZZ",
            " 2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00.\u{661}Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn instants_outside_1970_to_9999_are_refused() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999Z"), None);
        assert_eq!(parse_rfc3339("1970-01-01T00:59:59+01:00"), None);
        assert_eq!(
            parse_rfc3339("9999-12-31T23:59:59.999Z"),
            Some(opsledger_domain::time::MAX_ACCEPTED.millis())
        );
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59.999-00:01"), None);
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), None);
    }
}
