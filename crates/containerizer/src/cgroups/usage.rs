//! Parsing the statistics files of cgroups: flat keyed files (`key value` per line, like
//! `cpu.stat`, `cpuacct.stat`, `memory.stat`, `memory.events`, `pids.events`) and `cpu.max`.

use std::collections::BTreeMap;
use std::path::Path;

use super::fs;
use crate::error::IsolatorError;

/// A flat keyed file: `key value` lines; lines that do not parse are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FlatKeyed(BTreeMap<String, u64>);

impl FlatKeyed {
    pub(crate) fn parse(text: &str) -> Self {
        Self(
            text.lines()
                .filter_map(|line| {
                    let mut parts = line.split_whitespace();
                    let key = parts.next()?;
                    let value = parts.next()?.parse().ok()?;
                    Some((key.to_owned(), value))
                })
                .collect(),
        )
    }

    /// Reads and parses `path`; `None` if the file does not exist.
    pub(crate) fn read(path: &Path) -> Result<Option<Self>, IsolatorError> {
        Ok(fs::read_opt(path)?.map(|text| Self::parse(&text)))
    }

    pub(crate) fn get(&self, key: &str) -> Option<u64> {
        self.0.get(key).copied()
    }

    /// The first of `keys` that is present (v1 `memory.stat` has hierarchical `total_*`
    /// variants of most keys; prefer them).
    pub(crate) fn first(&self, keys: &[&str]) -> Option<u64> {
        keys.iter().find_map(|k| self.get(k))
    }

    /// Sum of the keys, if any of them is present.
    pub(crate) fn sum(&self, keys: &[&str]) -> Option<u64> {
        keys.iter()
            .filter_map(|k| self.get(k))
            .reduce(u64::saturating_add)
    }
}

/// Reads a flat keyed file's key, `None` if the file or the key is missing.
pub(crate) fn read_key(path: &Path, key: &str) -> Result<Option<u64>, IsolatorError> {
    Ok(FlatKeyed::read(path)?.and_then(|f| f.get(key)))
}

/// v2 `cpu.max`: `$MAX $PERIOD` where `$MAX` may be `max`. Returns `(quota, period)` in µs.
pub(crate) fn parse_cpu_max(text: &str) -> Option<(Option<u64>, u64)> {
    let mut parts = text.split_whitespace();
    let quota = match parts.next()? {
        "max" => None,
        n => Some(n.parse().ok()?),
    };
    let period = parts.next().map_or(Some(100_000), |p| p.parse().ok())?;
    Some((quota, period))
}

/// Seconds from a count of `unit`s per second.
pub(crate) fn secs(count: u64, per_second: u64) -> f64 {
    count as f64 / per_second.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed() {
        let f = FlatKeyed::parse("user 120\nsystem 30\ngarbage\nrss x\ntotal_rss 4096\n");
        assert_eq!(f.get("user"), Some(120));
        assert_eq!(f.get("rss"), None);
        assert_eq!(f.first(&["total_rss", "rss"]), Some(4096));
        assert_eq!(f.sum(&["user", "system", "nope"]), Some(150));
        assert_eq!(f.sum(&["nope"]), None);
    }

    #[test]
    fn cpu_max() {
        assert_eq!(parse_cpu_max("max 100000\n"), Some((None, 100_000)));
        assert_eq!(parse_cpu_max("50000 100000"), Some((Some(50_000), 100_000)));
        assert_eq!(parse_cpu_max("50000"), Some((Some(50_000), 100_000)));
        assert_eq!(parse_cpu_max("x 1"), None);
        assert_eq!(parse_cpu_max(""), None);
        assert_eq!(secs(250, 100), 2.5);
    }
}
