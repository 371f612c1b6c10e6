//! Inclusive integer ranges (`ports:[31000-32000]`).

use std::fmt;

/// One inclusive range `begin..=end` with `begin <= end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Range {
    begin: u64,
    end: u64,
}

impl Range {
    /// `begin..=end`; `None` when `begin > end`.
    pub fn new(begin: u64, end: u64) -> Option<Range> {
        (begin <= end).then_some(Range { begin, end })
    }

    /// The single value `value..=value`.
    pub fn single(value: u64) -> Range {
        Range {
            begin: value,
            end: value,
        }
    }

    /// First value.
    pub fn begin(self) -> u64 {
        self.begin
    }

    /// Last value (inclusive).
    pub fn end(self) -> u64 {
        self.end
    }

    /// Number of values, saturating at `u64::MAX` for the full domain.
    pub fn count(self) -> u64 {
        (self.end - self.begin).saturating_add(1)
    }

    /// True when `value` lies inside.
    pub fn contains_value(self, value: u64) -> bool {
        self.begin <= value && value <= self.end
    }

    /// True when the two ranges share at least one value.
    pub fn overlaps(self, other: Range) -> bool {
        self.begin <= other.end && other.begin <= self.end
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.begin, self.end)
    }
}

/// Why a raw list of ranges was rejected by [`Ranges::from_pairs_strict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangesError {
    /// A pair with `begin > end`.
    Inverted { begin: u64, end: u64 },
    /// Two ranges share values.
    Overlap { first: Range, second: Range },
}

/// A normalized set of integers stored as ranges: sorted, disjoint and coalesced
/// (adjacent ranges such as `1-3` and `4-5` become `1-5`).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ranges(Vec<Range>);

impl Ranges {
    /// The empty set.
    pub fn new() -> Ranges {
        Ranges(Vec::new())
    }

    /// Normalizes arbitrary (possibly overlapping, unsorted) ranges.
    pub fn coalesce(ranges: impl IntoIterator<Item = Range>) -> Ranges {
        let mut sorted: Vec<Range> = ranges.into_iter().collect();
        sorted.sort_unstable();
        let mut out: Vec<Range> = Vec::with_capacity(sorted.len());
        for range in sorted {
            match out.last_mut() {
                Some(last) if range.begin <= last.end.saturating_add(1) => {
                    last.end = last.end.max(range.end);
                }
                _ => out.push(range),
            }
        }
        Ranges(out)
    }

    /// Builds from raw `(begin, end)` pairs the way Mesos validates a resource:
    /// every pair must have `begin <= end` and no two may overlap (adjacent is fine).
    pub fn from_pairs_strict(pairs: &[(u64, u64)]) -> Result<Ranges, RangesError> {
        let mut ranges = Vec::with_capacity(pairs.len());
        for &(begin, end) in pairs {
            ranges.push(Range::new(begin, end).ok_or(RangesError::Inverted { begin, end })?);
        }
        let mut sorted = ranges.clone();
        sorted.sort_unstable();
        for pair in sorted.windows(2) {
            if pair[0].overlaps(pair[1]) {
                return Err(RangesError::Overlap {
                    first: pair[0],
                    second: pair[1],
                });
            }
        }
        Ok(Ranges::coalesce(ranges))
    }

    /// The ranges, sorted and disjoint.
    pub fn iter(&self) -> impl Iterator<Item = Range> + '_ {
        self.0.iter().copied()
    }

    /// The ranges as a slice.
    pub fn as_slice(&self) -> &[Range] {
        &self.0
    }

    /// True when no value is present.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of disjoint ranges.
    pub fn segments(&self) -> usize {
        self.0.len()
    }

    /// Number of values, saturating at `u64::MAX`.
    pub fn count(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |acc, r| acc.saturating_add(r.count()))
    }

    /// True when `value` is a member.
    pub fn contains_value(&self, value: u64) -> bool {
        let idx = self.0.partition_point(|r| r.end < value);
        self.0.get(idx).is_some_and(|r| r.contains_value(value))
    }

    /// True when every value of `other` is a member of `self`.
    pub fn contains(&self, other: &Ranges) -> bool {
        let mut mine = self.0.iter().peekable();
        'outer: for theirs in &other.0 {
            while let Some(r) = mine.peek() {
                if r.end < theirs.begin {
                    mine.next();
                    continue;
                }
                if r.begin <= theirs.begin && theirs.end <= r.end {
                    continue 'outer;
                }
                return false;
            }
            return false;
        }
        true
    }

    /// Set union.
    pub fn union(&self, other: &Ranges) -> Ranges {
        Ranges::coalesce(self.0.iter().chain(other.0.iter()).copied())
    }

    /// Set difference `self - other` (values of `other` absent from `self` are ignored).
    pub fn difference(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::with_capacity(self.0.len());
        let mut cut = other.0.iter().peekable();
        for &range in &self.0 {
            let mut begin = range.begin;
            let mut remaining = true;
            while let Some(&&c) = cut.peek() {
                if c.end < begin {
                    cut.next();
                    continue;
                }
                if c.begin > range.end {
                    break;
                }
                // `c` overlaps [begin, range.end].
                if c.begin > begin {
                    out.push(Range {
                        begin,
                        end: c.begin - 1,
                    });
                }
                if c.end >= range.end {
                    remaining = false;
                    break;
                }
                begin = c.end + 1;
                cut.next();
            }
            if remaining {
                out.push(Range {
                    begin,
                    end: range.end,
                });
            }
        }
        Ranges(out)
    }

    /// Set intersection.
    pub fn intersection(&self, other: &Ranges) -> Ranges {
        self.difference(&self.difference(other))
    }
}

impl From<Range> for Ranges {
    fn from(range: Range) -> Ranges {
        Ranges(vec![range])
    }
}

impl FromIterator<Range> for Ranges {
    fn from_iter<T: IntoIterator<Item = Range>>(iter: T) -> Ranges {
        Ranges::coalesce(iter)
    }
}

/// Renders like Mesos: `[31000-31005, 31010-31020]`, `[]` when empty.
impl fmt::Display for Ranges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, range) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{range}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests;
