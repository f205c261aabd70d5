//! Condition operators and how a condition tests the request context.

use std::net::IpAddr;

use crate::context::Context;
use crate::matching::{substitute, wildcard};

/// One key of one operator in a `Condition` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: Operator,
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    pub test: Test,
    /// `...IfExists`: a key the request lacks satisfies the condition.
    pub if_exists: bool,
    pub set: SetQualifier,
}

/// `ForAnyValue:` and `ForAllValues:` for multi-valued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Null,
}

const TESTS: [(&str, Test); 26] = [
    ("StringEquals", Test::StringEquals),
    ("StringNotEquals", Test::StringNotEquals),
    ("StringEqualsIgnoreCase", Test::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Test::StringNotEqualsIgnoreCase),
    ("StringLike", Test::StringLike),
    ("StringNotLike", Test::StringNotLike),
    ("NumericEquals", Test::NumericEquals),
    ("NumericNotEquals", Test::NumericNotEquals),
    ("NumericLessThan", Test::NumericLessThan),
    ("NumericLessThanEquals", Test::NumericLessThanEquals),
    ("NumericGreaterThan", Test::NumericGreaterThan),
    ("NumericGreaterThanEquals", Test::NumericGreaterThanEquals),
    ("DateEquals", Test::DateEquals),
    ("DateNotEquals", Test::DateNotEquals),
    ("DateLessThan", Test::DateLessThan),
    ("DateLessThanEquals", Test::DateLessThanEquals),
    ("DateGreaterThan", Test::DateGreaterThan),
    ("DateGreaterThanEquals", Test::DateGreaterThanEquals),
    ("Bool", Test::Bool),
    ("IpAddress", Test::IpAddress),
    ("NotIpAddress", Test::NotIpAddress),
    ("ArnEquals", Test::ArnEquals),
    ("ArnNotEquals", Test::ArnNotEquals),
    ("ArnLike", Test::ArnLike),
    ("ArnNotLike", Test::ArnNotLike),
    ("Null", Test::Null),
];

/// Reads an operator name such as `ForAnyValue:StringLikeIfExists`.
pub fn parse_operator(name: &str) -> Result<Operator, String> {
    let (set, rest) = match name.split_once(':') {
        Some(("ForAnyValue", rest)) => (SetQualifier::ForAnyValue, rest),
        Some(("ForAllValues", rest)) => (SetQualifier::ForAllValues, rest),
        Some((qualifier, _)) => {
            return Err(format!("{qualifier:?} is not ForAnyValue or ForAllValues"));
        }
        None => (SetQualifier::Single, name),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) if base != "Null" => (base, true),
        _ => (rest, false),
    };
    let test = TESTS
        .iter()
        .find(|(known, _)| *known == base)
        .map(|(_, test)| *test)
        .ok_or_else(|| format!("unknown condition operator {name:?}"))?;
    Ok(Operator {
        test,
        if_exists,
        set,
    })
}

impl Test {
    /// Negated tests succeed when no value matches, so a key the request lacks satisfies them.
    fn is_negated(self) -> bool {
        matches!(
            self,
            Test::StringNotEquals
                | Test::StringNotEqualsIgnoreCase
                | Test::StringNotLike
                | Test::NumericNotEquals
                | Test::DateNotEquals
                | Test::NotIpAddress
                | Test::ArnNotEquals
                | Test::ArnNotLike
        )
    }

    /// The positive test a negated one inverts.
    fn positive(self) -> Test {
        match self {
            Test::StringNotEquals => Test::StringEquals,
            Test::StringNotEqualsIgnoreCase => Test::StringEqualsIgnoreCase,
            Test::StringNotLike => Test::StringLike,
            Test::NumericNotEquals => Test::NumericEquals,
            Test::DateNotEquals => Test::DateEquals,
            Test::NotIpAddress => Test::IpAddress,
            Test::ArnNotEquals => Test::ArnEquals,
            Test::ArnNotLike => Test::ArnLike,
            other => other,
        }
    }
}

impl Condition {
    /// Whether the request context satisfies this condition. `variables` is false for
    /// 2008-10-17 policies, where `${...}` is literal text.
    pub fn holds(&self, context: &Context, variables: bool) -> bool {
        let test = self.operator.test;
        let present = context
            .values(&self.key)
            .filter(|values| !values.is_empty());
        if test == Test::Null {
            let wants_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return wants_absent == present.is_none();
        }
        let Some(actual) = present else {
            return match self.operator.set {
                SetQualifier::ForAllValues => true,
                SetQualifier::ForAnyValue => self.operator.if_exists,
                SetQualifier::Single => self.operator.if_exists || test.is_negated(),
            };
        };
        let expected: Vec<String> = self
            .values
            .iter()
            .filter_map(|v| {
                if variables {
                    substitute(v, context)
                } else {
                    Some(v.clone())
                }
            })
            .collect();
        let one = |value: &String| {
            let matched = expected.iter().any(|e| compare(test.positive(), value, e));
            matched != test.is_negated()
        };
        match self.operator.set {
            SetQualifier::ForAllValues => actual.iter().all(one),
            // A single-valued operator on a multi-valued key is satisfied by any of its values.
            SetQualifier::ForAnyValue | SetQualifier::Single => actual.iter().any(one),
        }
    }
}

/// One request value against one policy value, for a positive test.
fn compare(test: Test, actual: &str, expected: &str) -> bool {
    match test {
        Test::StringEquals | Test::ArnEquals => actual == expected,
        Test::StringEqualsIgnoreCase => actual.eq_ignore_ascii_case(expected),
        Test::StringLike | Test::ArnLike => wildcard(expected, actual, false),
        Test::NumericEquals => numbers(actual, expected).is_some_and(|(a, e)| a == e),
        Test::NumericLessThan => numbers(actual, expected).is_some_and(|(a, e)| a < e),
        Test::NumericLessThanEquals => numbers(actual, expected).is_some_and(|(a, e)| a <= e),
        Test::NumericGreaterThan => numbers(actual, expected).is_some_and(|(a, e)| a > e),
        Test::NumericGreaterThanEquals => numbers(actual, expected).is_some_and(|(a, e)| a >= e),
        Test::DateEquals => dates(actual, expected).is_some_and(|(a, e)| a == e),
        Test::DateLessThan => dates(actual, expected).is_some_and(|(a, e)| a < e),
        Test::DateLessThanEquals => dates(actual, expected).is_some_and(|(a, e)| a <= e),
        Test::DateGreaterThan => dates(actual, expected).is_some_and(|(a, e)| a > e),
        Test::DateGreaterThanEquals => dates(actual, expected).is_some_and(|(a, e)| a >= e),
        Test::Bool => actual.eq_ignore_ascii_case(expected),
        Test::IpAddress => in_network(actual, expected),
        _ => false,
    }
}

fn numbers(actual: &str, expected: &str) -> Option<(f64, f64)> {
    Some((actual.trim().parse().ok()?, expected.trim().parse().ok()?))
}

fn dates(actual: &str, expected: &str) -> Option<(i64, i64)> {
    Some((epoch_seconds(actual)?, epoch_seconds(expected)?))
}

/// Unix seconds, or an ISO 8601 UTC time such as `2024-01-31T12:00:00Z` (fractions ignored).
pub fn epoch_seconds(text: &str) -> Option<i64> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds);
    }
    let (date, time) = text.split_once('T').unwrap_or((text, "00:00:00Z"));
    let mut date_parts = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (
        date_parts.next()??,
        date_parts.next()??,
        date_parts.next()??,
    );
    let time = time.trim_end_matches('Z');
    let time = time.split('.').next()?;
    let mut time_parts = time.split(':').map(|p| p.parse::<i64>().ok());
    let (hour, minute) = (time_parts.next()??, time_parts.next()??);
    let second = time_parts.next().flatten().unwrap_or(0);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Whether `address` lies in `network`, written as CIDR (`10.0.0.0/8`) or a single address.
fn in_network(address: &str, network: &str) -> bool {
    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };
    let (base, bits) = match network.split_once('/') {
        Some((base, bits)) => (base, bits.parse::<u32>().ok()),
        None => (network, None),
    };
    let Ok(base) = base.parse::<IpAddr>() else {
        return false;
    };
    match (address, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}
