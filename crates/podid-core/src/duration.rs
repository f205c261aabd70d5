//! Durations written the way the AWS agent's flags take them (Go's `time.ParseDuration`):
//! `3h`, `90m`, `1h30m`, `2.5s`, `0`.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("missing unit in duration {0:?}: use h, m, s, ms, us or ns, as in 3h or 90s")]
    MissingUnit(String),
    #[error("unknown unit {unit:?} in duration {input:?}: use h, m, s, ms, us or ns")]
    UnknownUnit { unit: String, input: String },
    #[error("invalid number in duration {0:?}")]
    InvalidNumber(String),
    #[error("negative durations are not allowed: {0:?}")]
    Negative(String),
    #[error("duration {0:?} is too large")]
    TooLarge(String),
}

/// Parses a Go-style duration. A bare `0` is allowed without a unit, as in Go.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.starts_with('-') {
        return Err(DurationError::Negative(input.to_owned()));
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    if text == "0" {
        return Ok(Duration::ZERO);
    }

    let mut total_nanos: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(DurationError::InvalidNumber(input.to_owned()));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| DurationError::InvalidNumber(input.to_owned()))?;

        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(input.to_owned()));
        }
        total_nanos += value * nanos_per(unit, input)?;
        rest = next;
    }
    if total_nanos > u64::MAX as f64 {
        return Err(DurationError::TooLarge(input.to_owned()));
    }
    Ok(Duration::from_nanos(total_nanos.round() as u64))
}

fn nanos_per(unit: &str, input: &str) -> Result<f64, DurationError> {
    Ok(match unit {
        "ns" => 1.0,
        "us" | "µs" | "μs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => {
            return Err(DurationError::UnknownUnit {
                unit: unit.to_owned(),
                input: input.to_owned(),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("3h"), Ok(Duration::from_secs(3 * 3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_malformed_durations() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("10"),
            Err(DurationError::MissingUnit("10".into()))
        );
        assert!(matches!(
            parse_duration("3d"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("-1h"),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse_duration("h"),
            Err(DurationError::InvalidNumber(_))
        ));
        assert!(matches!(
            parse_duration("1..2s"),
            Err(DurationError::InvalidNumber(_))
        ));
    }

    #[test]
    fn error_messages_name_the_input() {
        let message = parse_duration("3 days").unwrap_err().to_string();
        assert!(message.contains("3 days"), "{message}");
    }
}
