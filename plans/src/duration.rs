//! Durations as plans write them (`90s`, `10m`, `1h30m`) and as reports print them.

use std::{fmt, time::Duration};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A duration parsed with humantime from a plan; serialises back to its compact form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PlanDuration(pub Duration);

impl PlanDuration {
    /// The wrapped duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

/// A duration that does not parse. Its message is plangate's own, with
/// examples, whatever the parser underneath says (humantime's positions mean
/// little to a plan author).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.text, *.or_none))]
pub struct ParseDurationError {
    /// The text as written (a number without a unit included).
    pub text: String,
    /// Whether the word `none` would also have been accepted (a budget).
    pub or_none: bool,
}

fn describe(text: &str, or_none: bool) -> String {
    let what = if text.trim().is_empty() {
        "empty duration".to_owned()
    } else {
        format!("invalid duration `{text}`")
    };
    let none = if or_none { ", or `none`" } else { "" };
    format!("{what}: expected a number and a unit, such as `90s`, `10m` or `1h30m`{none}")
}

/// Parses a plan duration (humantime's syntax: `90s`, `10m`, `1h30m`).
///
/// # Errors
///
/// [`ParseDurationError`] when `text` is not such a duration.
pub fn parse_duration(text: &str) -> Result<Duration, ParseDurationError> {
    let trimmed = text.trim();
    let invalid = || ParseDurationError {
        text: text.to_owned(),
        or_none: false,
    };
    if trimmed.is_empty() {
        return Err(invalid());
    }
    humantime::parse_duration(trimmed).map_err(|_| invalid())
}

/// Formats a duration compactly: `4h30m`, `1m30s`, `0s`, `1.5s` below a minute with millis.
pub fn format_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    let millis = duration.subsec_millis();
    if total == 0 && millis == 0 {
        return "0s".to_owned();
    }
    let (hours, minutes, seconds) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if seconds > 0 || (millis > 0 && total < 60) {
        if millis > 0 && total < 60 {
            let tenths = format!("{seconds}.{millis:03}");
            out.push_str(tenths.trim_end_matches('0'));
            out.push('s');
        } else {
            out.push_str(&format!("{seconds}s"));
        }
    }
    out
}

impl fmt::Display for PlanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for PlanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for PlanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = PlanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `90s`, `10m` or `1h30m`")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<PlanDuration, E> {
                parse_duration(text).map(PlanDuration).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<PlanDuration, E> {
                Err(E::custom(not_a_duration(value, false)))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<PlanDuration, E> {
                Err(E::custom(not_a_duration(value, false)))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<PlanDuration, E> {
                Err(E::custom(not_a_duration(value, false)))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The error of a number written where a duration goes (`timeout: 10`).
fn not_a_duration(value: impl fmt::Display, or_none: bool) -> ParseDurationError {
    ParseDurationError {
        text: value.to_string(),
        or_none,
    }
}

/// A limit that can be switched off with the word `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit<T> {
    /// No limit.
    None,
    /// At most this.
    Some(T),
}

impl<T: Copy> Limit<T> {
    /// The limit, if any.
    pub fn get(self) -> Option<T> {
        match self {
            Limit::None => None,
            Limit::Some(value) => Some(value),
        }
    }
}

impl<'de> Deserialize<'de> for Limit<PlanDuration> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Limit<PlanDuration>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `4h` or `90m`, or `none`")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                if text == "none" {
                    return Ok(Limit::None);
                }
                parse_duration(text)
                    .map(|d| Limit::Some(PlanDuration(d)))
                    .map_err(|error| {
                        E::custom(ParseDurationError {
                            or_none: true,
                            ..error
                        })
                    })
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Err(E::custom(not_a_duration(value, true)))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Err(E::custom(not_a_duration(value, true)))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Err(E::custom(not_a_duration(value, true)))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl<'de> Deserialize<'de> for Limit<u32> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Limit<u32>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive whole number, or `none`")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                match u32::try_from(value) {
                    Ok(0) | Err(_) => Err(E::invalid_value(de::Unexpected::Unsigned(value), &self)),
                    Ok(value) => Ok(Limit::Some(value)),
                }
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Err(E::invalid_value(de::Unexpected::Signed(value), &self))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                if text == "none" {
                    Ok(Limit::None)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(text), &self))
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case(Duration::from_secs(0), "0s")]
    #[test_case(Duration::from_secs(90), "1m30s")]
    #[test_case(Duration::from_secs(16200), "4h30m")]
    #[test_case(Duration::from_secs(14400), "4h")]
    #[test_case(Duration::from_millis(1500), "1.5s")]
    #[test_case(Duration::from_millis(20), "0.02s")]
    fn formats_compactly(duration: Duration, text: &str) {
        assert_eq!(format_duration(duration), text);
    }

    #[test]
    fn parses_humantime_and_explains_failures_in_its_own_words() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse_duration("10 mins please")
                .expect_err("not a duration")
                .to_string(),
            "invalid duration `10 mins please`: expected a number and a unit, such as `90s`, `10m` or `1h30m`"
        );
        assert_eq!(
            parse_duration(" ").expect_err("empty").to_string(),
            "empty duration: expected a number and a unit, such as `90s`, `10m` or `1h30m`"
        );
    }

    #[test]
    fn a_number_without_a_unit_is_not_a_duration() {
        let error = serde_yaml::from_str::<PlanDuration>("10").expect_err("no unit");
        assert_eq!(
            error.to_string(),
            "invalid duration `10`: expected a number and a unit, such as `90s`, `10m` or `1h30m`"
        );
        let error = serde_yaml::from_str::<Limit<PlanDuration>>("soon").expect_err("a word");
        assert_eq!(
            error.to_string(),
            "invalid duration `soon`: expected a number and a unit, such as `90s`, `10m` or `1h30m`, or `none`"
        );
        assert_eq!(
            serde_yaml::from_str::<Limit<PlanDuration>>("none").expect("none"),
            Limit::None
        );
    }
}
