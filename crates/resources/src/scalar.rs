//! Fixed-point scalar values.
//!
//! Mesos keeps scalar resource values to three decimal places so that every
//! node agrees on arithmetic results. [`Scalar`] stores the value as a whole
//! number of thousandths, which makes addition and subtraction exact.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::str::FromStr;

/// Number of fixed-point units in one whole unit.
const SCALE: i64 = 1000;

/// Why a number cannot become a [`Scalar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScalarError {
    /// The text is not a number.
    #[error("not a number")]
    NotANumber,
    /// NaN or an infinity.
    #[error("not a finite number")]
    NonFinite,
    /// Too large in magnitude for the fixed-point representation.
    #[error("out of range")]
    OutOfRange,
}

/// A scalar quantity with exactly three decimal places (stored in thousandths).
///
/// Arithmetic through the operators saturates instead of overflowing; values
/// that come from validated input are far from the limits (±9.2e15 units).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scalar(i64);

impl Scalar {
    /// Zero.
    pub const ZERO: Scalar = Scalar(0);

    /// Builds a scalar from thousandths (`1500` is `1.5`).
    pub const fn from_millis(millis: i64) -> Scalar {
        Scalar(millis)
    }

    /// Builds a scalar from a whole number of units, saturating at the limits.
    pub const fn from_units(units: i64) -> Scalar {
        Scalar(units.saturating_mul(SCALE))
    }

    /// Builds a scalar from an unsigned count (ranges sizes, set sizes, …), saturating.
    pub fn from_count(count: u64) -> Scalar {
        Scalar::from_units(i64::try_from(count).unwrap_or(i64::MAX))
    }

    /// The value in thousandths.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Converts a float, rounding to the nearest thousandth (half away from zero).
    pub fn try_from_f64(value: f64) -> Result<Scalar, ScalarError> {
        if !value.is_finite() {
            return Err(ScalarError::NonFinite);
        }
        let scaled = (value * SCALE as f64).round();
        // i64::MAX is not exactly representable; stay strictly inside.
        if scaled.abs() >= 9.2e18 {
            return Err(ScalarError::OutOfRange);
        }
        Ok(Scalar(scaled as i64))
    }

    /// The value as a float (exact for the integral part, rounded for the fraction).
    pub fn as_f64(self) -> f64 {
        (self.0 / SCALE) as f64 + (self.0 % SCALE) as f64 / SCALE as f64
    }

    /// True for zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// True for values below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Addition that reports overflow.
    pub fn checked_add(self, other: Scalar) -> Option<Scalar> {
        self.0.checked_add(other.0).map(Scalar)
    }

    /// Subtraction that reports overflow.
    pub fn checked_sub(self, other: Scalar) -> Option<Scalar> {
        self.0.checked_sub(other.0).map(Scalar)
    }

    /// Subtraction clamped at zero (for quantities that must not go negative).
    pub fn sub_or_zero(self, other: Scalar) -> Scalar {
        Scalar(self.0.saturating_sub(other.0).max(0))
    }

    /// `self / total` as a float; `0.0` when `total` is not positive.
    pub fn ratio(self, total: Scalar) -> f64 {
        if total.0 <= 0 {
            0.0
        } else {
            self.0 as f64 / total.0 as f64
        }
    }

    /// Parses a decimal number. Plain decimals (`12`, `-0.5`, `1.2345`) are
    /// converted exactly (rounded at the fourth decimal); other float syntax
    /// (`1e3`) goes through `f64`.
    pub fn parse_decimal(text: &str) -> Result<Scalar, ScalarError> {
        let text = text.trim();
        if let Some(exact) = parse_plain_decimal(text) {
            return exact;
        }
        let value: f64 = text.parse().map_err(|_| ScalarError::NotANumber)?;
        Scalar::try_from_f64(value)
    }
}

/// Exact parse of `[+-]digits[.digits]`; `None` when the text has another shape.
fn parse_plain_decimal(text: &str) -> Option<Result<Scalar, ScalarError>> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !all_digits(int_part) {
        return None;
    }
    if !all_digits(frac_part) {
        return None;
    }
    let mut millis: i64 = 0;
    for b in int_part.bytes() {
        millis = match millis
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(b - b'0')))
        {
            Some(m) => m,
            None => return Some(Err(ScalarError::OutOfRange)),
        };
    }
    let mut frac = frac_part.bytes().map(|b| i64::from(b - b'0'));
    let mut thousandths = 0;
    for _ in 0..3 {
        thousandths = thousandths * 10 + frac.next().unwrap_or(0);
    }
    if frac.next().is_some_and(|d| d >= 5) {
        thousandths += 1;
    }
    let total = millis
        .checked_mul(SCALE)
        .and_then(|m| m.checked_add(thousandths));
    Some(match total {
        Some(t) if negative => Ok(Scalar(-t)),
        Some(t) => Ok(Scalar(t)),
        None => Err(ScalarError::OutOfRange),
    })
}

impl FromStr for Scalar {
    type Err = ScalarError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scalar::parse_decimal(s)
    }
}

/// Renders like Mesos: `2`, `1.5`, `0.001`, `-0.25` (no trailing zeros).
impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / SCALE as u64;
        let frac = abs % SCALE as u64;
        if frac == 0 {
            return write!(f, "{sign}{whole}");
        }
        let digits = format!("{frac:03}");
        write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl Add for Scalar {
    type Output = Scalar;

    fn add(self, rhs: Scalar) -> Scalar {
        Scalar(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Scalar {
    fn add_assign(&mut self, rhs: Scalar) {
        *self = *self + rhs;
    }
}

impl Sub for Scalar {
    type Output = Scalar;

    fn sub(self, rhs: Scalar) -> Scalar {
        Scalar(self.0.saturating_sub(rhs.0))
    }
}

impl SubAssign for Scalar {
    fn sub_assign(&mut self, rhs: Scalar) {
        *self = *self - rhs;
    }
}

impl Sum for Scalar {
    fn sum<I: Iterator<Item = Scalar>>(iter: I) -> Scalar {
        iter.fold(Scalar::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Scalar> for Scalar {
    fn sum<I: Iterator<Item = &'a Scalar>>(iter: I) -> Scalar {
        iter.copied().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_floats_to_nearest_thousandth() {
        assert_eq!(Scalar::try_from_f64(1.5), Ok(Scalar::from_millis(1500)));
        assert_eq!(Scalar::try_from_f64(0.0004), Ok(Scalar::ZERO));
        assert_eq!(Scalar::try_from_f64(0.0005), Ok(Scalar::from_millis(1)));
        assert_eq!(Scalar::try_from_f64(-0.0016), Ok(Scalar::from_millis(-2)));
        assert_eq!(Scalar::try_from_f64(f64::NAN), Err(ScalarError::NonFinite));
        assert_eq!(
            Scalar::try_from_f64(f64::INFINITY),
            Err(ScalarError::NonFinite)
        );
        assert_eq!(Scalar::try_from_f64(1e17), Err(ScalarError::OutOfRange));
    }

    #[test]
    fn displays_like_mesos() {
        assert_eq!(Scalar::from_millis(1500).to_string(), "1.5");
        assert_eq!(Scalar::from_units(2).to_string(), "2");
        assert_eq!(Scalar::from_millis(1).to_string(), "0.001");
        assert_eq!(Scalar::from_millis(10).to_string(), "0.01");
        assert_eq!(Scalar::from_millis(-250).to_string(), "-0.25");
        assert_eq!(Scalar::ZERO.to_string(), "0");
        assert_eq!(
            Scalar::from_millis(i64::MIN).to_string(),
            "-9223372036854775.808"
        );
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!("1.5".parse(), Ok(Scalar::from_millis(1500)));
        assert_eq!(" 8192 ".parse(), Ok(Scalar::from_units(8192)));
        assert_eq!("0.0005".parse(), Ok(Scalar::from_millis(1)));
        assert_eq!("0.0004".parse(), Ok(Scalar::ZERO));
        assert_eq!("+.5".parse(), Ok(Scalar::from_millis(500)));
        assert_eq!("5.".parse(), Ok(Scalar::from_units(5)));
        assert_eq!("-2".parse(), Ok(Scalar::from_units(-2)));
        assert_eq!("1e3".parse(), Ok(Scalar::from_units(1000)));
        assert_eq!(
            "123456789012.345".parse(),
            Ok(Scalar::from_millis(123_456_789_012_345))
        );
        assert_eq!("abc".parse::<Scalar>(), Err(ScalarError::NotANumber));
        assert_eq!(".".parse::<Scalar>(), Err(ScalarError::NotANumber));
        assert_eq!("nan".parse::<Scalar>(), Err(ScalarError::NonFinite));
        assert_eq!("inf".parse::<Scalar>(), Err(ScalarError::NonFinite));
        assert_eq!(
            "99999999999999999999".parse::<Scalar>(),
            Err(ScalarError::OutOfRange)
        );
    }

    #[test]
    fn arithmetic_is_exact_and_saturating() {
        let a = Scalar::try_from_f64(0.1).unwrap_or_default();
        let b = Scalar::try_from_f64(0.2).unwrap_or_default();
        assert_eq!(a + b, Scalar::from_millis(300));
        assert_eq!((a + b).as_f64(), 0.3);
        assert_eq!(b - a, a);
        assert_eq!(a.sub_or_zero(b), Scalar::ZERO);
        assert_eq!(
            Scalar::from_millis(i64::MAX) + a,
            Scalar::from_millis(i64::MAX)
        );
        assert_eq!(a.checked_add(Scalar::from_millis(i64::MAX)), None);
        assert_eq!([a, b, a].iter().sum::<Scalar>(), Scalar::from_millis(400));
        assert_eq!(a.ratio(Scalar::ZERO), 0.0);
        assert_eq!(a.ratio(b), 0.5);
        assert_eq!(Scalar::from_count(u64::MAX), Scalar::from_millis(i64::MAX));
    }
}
