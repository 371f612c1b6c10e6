//! Mesos-style durations (`5secs`, `1mins`, `250ms`, `2hrs`, `1.5days`, `10ns`), as Mesos's flags
//! and `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` spell them; a bare number means seconds.

use std::time::Duration;

use thiserror::Error;

/// A duration that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid duration '{0}': expected a number and a unit (ns, us, ms, secs, mins, hrs, days, weeks)")]
pub struct DurationError(pub String);

/// Parses `text` as a Mesos duration.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| DurationError(text.to_string()))?;
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "" | "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hrs" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        _ => return Err(DurationError(text.to_string())),
    };
    let secs = value * scale;
    if !secs.is_finite() || secs < 0.0 {
        return Err(DurationError(text.to_string()));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Formats a duration the way Mesos prints it in environment variables (`5secs`, `250ms`).
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}secs", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mesos_units() {
        assert_eq!(parse("5secs"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("1mins"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2hrs"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1.5days"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse("15"), Ok(Duration::from_secs(15)));
        assert!(parse("five secs").is_err());
        assert!(parse("5parsecs").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for d in [Duration::from_secs(5), Duration::from_millis(250)] {
            assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
