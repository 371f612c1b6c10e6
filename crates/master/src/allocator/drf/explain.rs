//! What the allocator says about itself: why a framework gets no offers, and the roles.

use std::collections::BTreeMap;

use super::frameworks::FwRole;
use super::qty::Qty;
use super::tree::RoleIdx;
use super::{HierarchicalAllocator, RoleSummary};

/// `2023-11-14T22:13:20Z` for seconds since the Unix epoch.
pub(super) fn format_time(t: f64) -> String {
    if !t.is_finite() || !(0.0..253_402_300_800.0).contains(&t) {
        return format!("{t:.0}s");
    }
    let secs = t.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl HierarchicalAllocator {
    pub(super) fn why_not_inner(&self, framework_id: &str, now: f64) -> Vec<(String, String)> {
        let Some(fw) = self.fw_by_id.get(framework_id).and_then(|f| self.fw(*f)) else {
            return Vec::new();
        };
        if !fw.subscribed {
            return Vec::new();
        }
        let mut out = Vec::new();
        for fr in fw.roles.iter().filter(|fr| fr.subscribed) {
            let name = self.tree.get(fr.role).name.to_string();
            let why = if !fw.active {
                Some("framework is disconnected".to_string())
            } else if fr.suppressed {
                Some("suppressed (REVIVE to receive offers again)".to_string())
            } else if let Some(limit) = self.at_limit(fr.role) {
                Some(format!("role at its quota limit ({limit})"))
            } else if let Some((n, until)) = self.filtered_on(fr, now) {
                Some(format!(
                    "declined with a filter until {} on {n} agent{}",
                    format_time(until),
                    if n == 1 { "" } else { "s" }
                ))
            } else if self.held_for_headroom(fr.role) {
                Some("waiting: resources held as quota headroom for other roles".to_string())
            } else {
                self.nothing_meets_minimum(fw.gpu_aware, fr, &name)
            };
            if let Some(why) = why {
                out.push((name, why));
            }
        }
        out
    }

    /// The limit (of the role or an ancestor) that leaves it nothing unreserved.
    fn at_limit(&self, r: RoleIdx) -> Option<String> {
        let q = self.tree.chain(r).find(|q| self.tree.get(*q).own_blocked)?;
        let role = self.tree.get(q);
        let limits = self.names.to_quantities(&role.limits.finite());
        Some(if q == r {
            limits.to_string()
        } else {
            format!("{}: {limits}", role.name)
        })
    }

    /// Agents where the slot has live filters, and the latest expiry.
    fn filtered_on(&self, fr: &FwRole, now: f64) -> Option<(u32, f64)> {
        let slot = self.slot(fr.slot?)?;
        if slot.filtered_agents == 0 || slot.filter_max_until <= now {
            return None;
        }
        Some((slot.filtered_agents, slot.filter_max_until))
    }

    /// Unreserved resources exist, but all of them are needed as headroom for guarantees that
    /// `r` is not owed.
    fn held_for_headroom(&self, r: RoleIdx) -> bool {
        !self.required_headroom().is_zero()
            && self.grant(r).is_none()
            && self.headroom_exhausted(&self.surplus())
    }

    fn nothing_meets_minimum(&self, gpu_aware: bool, fr: &FwRole, name: &str) -> Option<String> {
        let min = fr.min.as_ref().unwrap_or(&self.default_min);
        if min.is_empty() {
            return None;
        }
        let meets = |all: &Qty, res: &corral_resources::Resources| {
            min.iter().any(|m| m.met_by(&self.names, all, res))
        };
        // Only agents with something available can meet a minimum: a full cluster costs nothing.
        let any = self.avail_bits.iter().any(|a| {
            let Some(agent) = self.agent(a) else {
                return false;
            };
            if agent.has_gpus && !gpu_aware {
                return false;
            }
            if agent.has_reserved {
                let res = agent.available.allocatable_to_role(name);
                meets(&self.names.split(&res).0, &res)
            } else {
                meets(&agent.avail_all, &agent.available)
            }
        });
        if any {
            return None;
        }
        let raw: Vec<_> = min.iter().map(|m| m.raw.clone()).collect();
        Some(format!(
            "no agent has resources allocatable to role {name} that meet the minimum ({})",
            self.names.describe_alternatives(&raw)
        ))
    }

    pub(super) fn roles_inner(&self) -> Vec<RoleSummary> {
        let mut members: BTreeMap<RoleIdx, Vec<String>> = BTreeMap::new();
        for fw in self.frameworks.iter().flatten().filter(|f| f.subscribed) {
            for fr in fw.roles.iter().filter(|fr| fr.subscribed) {
                members.entry(fr.role).or_default().push(fw.id.to_string());
            }
        }
        let mut out: Vec<RoleSummary> = self
            .tree
            .indices()
            .filter_map(|r| {
                let role = self.tree.get(r);
                let frameworks = members.remove(&r).unwrap_or_default();
                let listed = !frameworks.is_empty()
                    || role.weight_set
                    || role.quota.is_some()
                    || !role.alloc_sub.is_zero()
                    || !role.reserved_sub.is_zero();
                listed.then(|| {
                    let mut frameworks = frameworks;
                    frameworks.sort();
                    RoleSummary {
                        name: role.name.to_string(),
                        weight: role.weight,
                        quota: role.quota.clone(),
                        allocated: self.names.to_quantities(&role.alloc_sub),
                        frameworks,
                    }
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn formats_utc() {
        assert_eq!(format_time(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_700_000_000.5), "2023-11-14T22:13:20Z");
        assert_eq!(format_time(951_782_400.0), "2000-02-29T00:00:00Z");
    }
}
