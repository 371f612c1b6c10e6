//! Mesos's flat "Resources object" (`{"cpus":1.0,"disk":0,"gpus":0,"mem":128.0}`) written
//! straight to a serializer, with the same output as [`corral_resources::to_flat_json`].
//!
//! The common case — only non-revocable scalars, at most [`MAX_FAST`] names — is summed on the
//! stack without allocating; anything else (ranges, sets, revocable resources, an invalid proto)
//! falls back to the resources crate's rendering.

use corral_api::v1;
use corral_resources::{validate_role, Resources, Scalar};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Names always present, sorted (`0` when absent).
const DEFAULTS: [&str; 4] = ["cpus", "disk", "gpus", "mem"];

/// Distinct scalar names handled without allocating.
const MAX_FAST: usize = 8;

/// A flat resources object to serialize.
#[derive(Clone, Copy)]
pub(crate) enum Flat<'a> {
    /// Parsed resources.
    Res(&'a Resources),
    /// Wire resources, rendered as `Resources::from_proto` (invalid → empty) would be.
    Proto(&'a [v1::Resource]),
}

/// Per-name scalar totals, on the stack.
struct Sums<'a> {
    names: [&'a str; MAX_FAST],
    totals: [Scalar; MAX_FAST],
    len: usize,
}

impl<'a> Sums<'a> {
    fn new() -> Self {
        Self {
            names: [""; MAX_FAST],
            totals: [Scalar::default(); MAX_FAST],
            len: 0,
        }
    }

    /// Adds `value` to `name`; `false` when there is no room for a new name.
    fn add(&mut self, name: &'a str, value: Scalar) -> bool {
        if let Some(i) = self.names[..self.len].iter().position(|n| *n == name) {
            self.totals[i] += value;
            return true;
        }
        if self.len == MAX_FAST {
            return false;
        }
        self.names[self.len] = name;
        self.totals[self.len] = value;
        self.len += 1;
        true
    }

    fn get(&self, name: &str) -> Option<Scalar> {
        self.names[..self.len]
            .iter()
            .position(|n| *n == name)
            .map(|i| self.totals[i])
    }
}

/// Scalar totals of parsed resources, or `None` when the fast path does not apply.
fn sum_resources(r: &Resources) -> Option<Sums<'_>> {
    let mut sums = Sums::new();
    for res in r.iter() {
        if res.revocable {
            return None;
        }
        let value = res.as_scalar()?;
        if !sums.add(&res.name, value) {
            return None;
        }
    }
    Some(sums)
}

/// Scalar totals of wire resources, or `None` when the fast path does not apply (anything but
/// plain valid non-revocable scalars): exactly what `Resources::from_proto` then
/// `Resources::scalar` would give.
#[allow(deprecated)] // the legacy `role` field still decides reservations
fn sum_protos(protos: &[v1::Resource]) -> Option<Sums<'_>> {
    let mut sums = Sums::new();
    for p in protos {
        let plain = p.r#type == v1::value::Type::Scalar as i32
            && !p.name.is_empty()
            && p.revocable.is_none()
            && p.shared.is_none()
            && p.disk.is_none()
            && p.provider_id.is_none()
            && p.reservations.is_empty()
            && p.role.as_deref().is_none_or(|r| r == "*")
            && p.allocation_info
                .as_ref()
                .and_then(|a| a.role.as_deref())
                .is_none_or(|r| validate_role(r).is_ok());
        if !plain {
            return None;
        }
        let v = p.scalar.as_ref()?.value;
        let scalar = Scalar::try_from_f64(v).ok()?;
        if scalar.is_negative() || (v < 0.0 && scalar.is_zero()) {
            return None;
        }
        // `Resources::add` ignores empty values: the name does not appear.
        if scalar.is_zero() {
            continue;
        }
        if !sums.add(&p.name, scalar) {
            return None;
        }
    }
    Some(sums)
}

fn write_sums<S: Serializer>(sums: &Sums<'_>, s: S) -> Result<S::Ok, S::Error> {
    if sums.names[..sums.len].iter().all(|n| DEFAULTS.contains(n)) {
        let mut map = s.serialize_map(Some(DEFAULTS.len()))?;
        for name in DEFAULTS {
            match sums.get(name) {
                Some(total) => map.serialize_entry(name, &total.as_f64())?,
                None => map.serialize_entry(name, &0u64)?,
            }
        }
        return map.end();
    }
    let mut names: [&str; MAX_FAST + DEFAULTS.len()] = [""; MAX_FAST + DEFAULTS.len()];
    names[..DEFAULTS.len()].copy_from_slice(&DEFAULTS);
    let mut len = DEFAULTS.len();
    for name in &sums.names[..sums.len] {
        if !DEFAULTS.contains(name) {
            names[len] = name;
            len += 1;
        }
    }
    let names = &mut names[..len];
    names.sort_unstable();
    let mut map = s.serialize_map(Some(len))?;
    for name in names.iter() {
        match sums.get(name) {
            Some(total) => map.serialize_entry(name, &total.as_f64())?,
            None => map.serialize_entry(name, &0u64)?,
        }
    }
    map.end()
}

impl Serialize for Flat<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Flat::Res(r) => match sum_resources(r) {
                Some(sums) => write_sums(&sums, s),
                None => corral_resources::to_flat_json(r).serialize(s),
            },
            Flat::Proto(p) => match sum_protos(p) {
                Some(sums) => write_sums(&sums, s),
                None => {
                    let r = Resources::from_proto(p).unwrap_or_default();
                    corral_resources::to_flat_json(&r).serialize(s)
                }
            },
        }
    }
}
