//! Request times as SigV4 writes them: ISO 8601 basic format (`20150830T123600Z`), and the HTTP
//! `Date` header's format (`Sun, 30 Aug 2015 12:36:00 GMT`) that AWS accepts in its place.
//!
//! Times are whole seconds since the Unix epoch, the resolution a signature carries, limited to
//! the years 0000 to 9999 that the four-digit format can spell.

use std::fmt;

use podid_core::time::{civil_from_days, days_from_civil};

/// The earliest instant the format can write: 0000-01-01T00:00:00Z.
const MIN_UNIX: i64 = -62_167_219_200;
/// The latest instant the format can write: 9999-12-31T23:59:59Z.
const MAX_UNIX: i64 = 253_402_300_799;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// An instant with one-second resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDate {
    unix: i64,
}

impl AmzDate {
    /// The instant `unix` seconds after the epoch, clamped to the years the format can write.
    pub fn from_unix(unix: i64) -> Self {
        Self {
            unix: unix.clamp(MIN_UNIX, MAX_UNIX),
        }
    }

    pub fn unix(self) -> i64 {
        self.unix
    }

    /// Parses ISO 8601 basic format, `YYYYMMDDTHHMMSSZ`, the only form `X-Amz-Date` takes.
    pub fn parse_basic(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 16 || bytes.get(8) != Some(&b'T') || bytes.get(15) != Some(&b'Z') {
            return None;
        }
        let year = digits(text, 0..4)?;
        let (month, day) = (digits(text, 4..6)?, digits(text, 6..8)?);
        let (hour, minute, second) = (
            digits(text, 9..11)?,
            digits(text, 11..13)?,
            digits(text, 13..15)?,
        );
        from_fields(year, month, day, hour, minute, second)
    }

    /// Parses the HTTP date format of RFC 9110 (`Sun, 06 Nov 1994 08:49:37 GMT`), or ISO 8601
    /// basic format, which some clients put in `Date` too.
    pub fn parse_http_date(text: &str) -> Option<Self> {
        if let Some(date) = Self::parse_basic(text) {
            return Some(date);
        }
        let bytes = text.as_bytes();
        let weekday = text.get(0..3)?;
        let layout_ok = bytes.len() == 29
            && WEEKDAYS.contains(&weekday)
            && text.get(3..5) == Some(", ")
            && [7, 11, 16].iter().all(|&at| bytes.get(at) == Some(&b' '))
            && [19, 22].iter().all(|&at| bytes.get(at) == Some(&b':'))
            && text.get(25..) == Some(" GMT");
        if !layout_ok {
            return None;
        }
        let month_name = text.get(8..11)?;
        let month = MONTHS.iter().position(|name| *name == month_name)? as u32 + 1;
        let (day, year) = (digits(text, 5..7)?, digits(text, 12..16)?);
        let (hour, minute, second) = (
            digits(text, 17..19)?,
            digits(text, 20..22)?,
            digits(text, 23..25)?,
        );
        from_fields(year, month, day, hour, minute, second)
    }

    /// The instant in ISO 8601 basic format.
    pub fn to_basic(self) -> BasicFormat {
        let days = self.unix.div_euclid(86_400);
        let second_of_day = self.unix.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        let mut text = [0u8; 16];
        write_digits(&mut text[0..4], year as u32);
        write_digits(&mut text[4..6], month);
        write_digits(&mut text[6..8], day);
        text[8] = b'T';
        write_digits(&mut text[9..11], second_of_day / 3600);
        write_digits(&mut text[11..13], second_of_day / 60 % 60);
        write_digits(&mut text[13..15], second_of_day % 60);
        text[15] = b'Z';
        BasicFormat(text)
    }
}

/// An instant written as `YYYYMMDDTHHMMSSZ`, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BasicFormat([u8; 16]);

impl BasicFormat {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, `T` and `Z` are ever written into the array.
        std::str::from_utf8(&self.0).unwrap_or("00000000T000000Z")
    }

    /// The `YYYYMMDD` date that a credential scope names.
    pub fn date(&self) -> &str {
        self.as_str().get(..8).unwrap_or("00000000")
    }
}

impl fmt::Display for BasicFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for BasicFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

fn digits(text: &str, range: std::ops::Range<usize>) -> Option<u32> {
    let part = text.get(range)?;
    if !part.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

fn write_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn from_fields(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<AmzDate> {
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    let second_of_day = i64::from(hour * 3600 + minute * 60 + second);
    Some(AmzDate::from_unix(days * 86_400 + second_of_day))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_basic_format() {
        let date = AmzDate::parse_basic("20150830T123600Z").map(AmzDate::unix);
        assert_eq!(date, Some(1_440_938_160));
        assert_eq!(
            AmzDate::from_unix(1_440_938_160).to_basic().as_str(),
            "20150830T123600Z"
        );
        assert_eq!(
            AmzDate::from_unix(951_782_400).to_basic().as_str(),
            "20000229T000000Z"
        );
        assert_eq!(AmzDate::from_unix(0).to_basic().date(), "19700101");
        assert_eq!(
            AmzDate::from_unix(-1).to_basic().as_str(),
            "19691231T235959Z"
        );
    }

    #[test]
    fn round_trips_across_the_whole_range() {
        for unix in [MIN_UNIX, -86_401, 0, 68_169_600, 4_102_444_799, MAX_UNIX] {
            let text = AmzDate::from_unix(unix).to_basic();
            assert_eq!(
                AmzDate::parse_basic(text.as_str()),
                Some(AmzDate::from_unix(unix))
            );
        }
        assert_eq!(
            AmzDate::from_unix(i64::MAX).to_basic().as_str(),
            "99991231T235959Z"
        );
        assert_eq!(
            AmzDate::from_unix(i64::MIN).to_basic().as_str(),
            "00000101T000000Z"
        );
    }

    #[test]
    fn rejects_malformed_basic_format() {
        for text in [
            "",
            "201",
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20150830t123600Z",
            "20150830T123600Z0",
            "20151301T000000Z",
            "20150230T000000Z",
            "20150830T240000Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "2015083+T123600Z",
            "２０１５0830T12360Z",
        ] {
            assert_eq!(AmzDate::parse_basic(text), None, "{text}");
        }
        assert!(AmzDate::parse_basic("20160229T000000Z").is_some());
        assert_eq!(AmzDate::parse_basic("21000229T000000Z"), None);
    }

    #[test]
    fn parses_http_dates() {
        let parsed = AmzDate::parse_http_date("Fri, 24 May 2013 00:00:00 GMT");
        assert_eq!(
            parsed.map(|date| date.to_basic().to_string()),
            Some("20130524T000000Z".into())
        );
        let basic = AmzDate::parse_http_date("20130524T000000Z");
        assert_eq!(basic, AmzDate::parse_basic("20130524T000000Z"));
        for text in [
            "Fri, 24 May 2013 00:00:00 UTC",
            "Fri, 24 Mai 2013 00:00:00 GMT",
            "Fre, 24 May 2013 00:00:00 GMT",
            "Fri 24 May 2013 00:00:00 GMT",
            "Fri, 32 May 2013 00:00:00 GMT",
            "Friday, 24-May-13 00:00:00 GMT",
        ] {
            assert_eq!(AmzDate::parse_http_date(text), None, "{text}");
        }
    }
}
