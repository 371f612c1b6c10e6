//! Mesos-style durations (`5secs`, `1mins`, `250ms`, `2hrs`, `1.5days`, `10ns`), as Mesos's flags
//! and `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` spell them. A bare number means seconds (handy for
//! environment variables such as `CORRAL_HEARTBEAT_SECS=1`).

use std::time::Duration;

use thiserror::Error;

/// A duration that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid duration '{0}': expected a number and a unit (ns, us, ms, secs, mins, hrs, days, weeks)")]
pub struct DurationError(pub String);

/// Units from largest to smallest, in nanoseconds, as stout prints them.
const UNITS: [(&str, u128); 7] = [
    ("weeks", 7 * 24 * 3600 * 1_000_000_000),
    ("days", 24 * 3600 * 1_000_000_000),
    ("hrs", 3600 * 1_000_000_000),
    ("mins", 60 * 1_000_000_000),
    ("secs", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
];

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
        "ns" | "nsecs" => 1e-9,
        "us" | "usecs" => 1e-6,
        "ms" | "msecs" => 1e-3,
        "" | "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hrs" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        _ => return Err(DurationError(text.to_string())),
    };
    let secs = value * scale;
    // Durations beyond ~584 years do not fit; they are errors, not saturation.
    if !(0.0..=1.8e10).contains(&secs) {
        return Err(DurationError(text.to_string()));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Formats a duration as stout does: in the largest unit in which it is at least 1, with up to
/// six significant digits (`5secs`, `1mins`, `1.5mins`, `250ms`, `0ns`).
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    for (unit, size) in UNITS {
        if nanos >= size {
            #[allow(clippy::cast_precision_loss)]
            let value = nanos as f64 / size as f64;
            return format!("{}{unit}", significant(value));
        }
    }
    format!("{nanos}ns")
}

/// Up to 6 significant digits without trailing zeros, like C++'s default stream format.
fn significant(value: f64) -> String {
    let digits = value.abs().log10().floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = (5.0 - digits).clamp(0.0, 9.0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
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
        assert!(parse("1e30weeks").is_err());
    }

    #[test]
    fn formats_like_stout() {
        assert_eq!(format(Duration::from_secs(5)), "5secs");
        assert_eq!(format(Duration::from_secs(60)), "1mins");
        assert_eq!(format(Duration::from_secs(90)), "1.5mins");
        assert_eq!(format(Duration::from_millis(250)), "250ms");
        assert_eq!(format(Duration::ZERO), "0ns");
        for d in [
            Duration::from_secs(5),
            Duration::from_millis(250),
            Duration::from_secs(90),
        ] {
            assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
