//! Role weights and quota: validated here, persisted by the shell before they are applied
//! (persist before acknowledging), then handed to the allocator.

use std::collections::BTreeMap;

use corral_api::v1::{self, quota::QuotaConfig};
use corral_resources::{ResourceQuantities, Scalar};

use super::{CoreError, MasterCore};
use crate::allocator::Quota;

/// The weights and quotas the master keeps (and the registry persists).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Policies {
    /// Role → weight, for every role an operator set (absent: 1).
    pub weights: BTreeMap<String, f64>,
    /// Role → quota config.
    pub quotas: BTreeMap<String, QuotaConfig>,
}

fn invalid(m: impl Into<String>) -> CoreError {
    CoreError::Invalid(m.into())
}

fn quantities(
    map: &BTreeMap<String, v1::value::Scalar>,
    role: &str,
    what: &str,
) -> Result<ResourceQuantities, CoreError> {
    let mut out = ResourceQuantities::new();
    for (name, scalar) in map {
        if name.is_empty() {
            return Err(invalid(format!(
                "Quota for role '{role}': empty resource name in {what}"
            )));
        }
        let s = Scalar::try_from_f64(scalar.value).map_err(|e| {
            invalid(format!(
                "Quota for role '{role}': {what} '{name}' is invalid: {e}"
            ))
        })?;
        if s.is_negative() {
            return Err(invalid(format!(
                "Quota for role '{role}': {what} '{name}' is negative"
            )));
        }
        out.add_quantity(name, s);
    }
    Ok(out)
}

/// The allocator's view of a quota config.
pub fn quota_of(config: &QuotaConfig) -> Result<Quota, CoreError> {
    Ok(Quota {
        guarantees: quantities(&config.guarantees, &config.role, "guarantee")?,
        limits: quantities(&config.limits, &config.role, "limit")?,
    })
}

impl Policies {
    /// UPDATE_WEIGHTS: the new policies, or why the update is refused (nothing changes).
    pub fn with_weights(&self, infos: &[v1::WeightInfo]) -> Result<Policies, CoreError> {
        if infos.is_empty() {
            return Err(invalid("Expecting 'weight_infos' to be non-empty"));
        }
        let mut next = self.clone();
        for info in infos {
            let role = info.role.clone().unwrap_or_default();
            corral_resources::validate_role(&role)
                .map_err(|e| invalid(format!("Invalid role: {e}")))?;
            if !(info.weight.is_finite() && info.weight > 0.0) {
                return Err(invalid(format!(
                    "Weight of role '{role}' must be a positive number, got {}",
                    info.weight
                )));
            }
            // Mesos keeps every role it was given, including one set back to the default 1.0.
            next.weights.insert(role, info.weight);
        }
        Ok(next)
    }

    /// UPDATE_QUOTA: the new policies, or why the update is refused (nothing changes).
    pub fn with_quotas(&self, configs: &[QuotaConfig]) -> Result<Policies, CoreError> {
        if configs.is_empty() {
            return Err(invalid("Expecting 'quota_configs' to be non-empty"));
        }
        let mut next = self.clone();
        let mut seen = std::collections::BTreeSet::new();
        for config in configs {
            corral_resources::validate_role(&config.role)
                .map_err(|e| invalid(format!("Invalid role: {e}")))?;
            if config.role == "*" {
                return Err(invalid("Quota cannot be set for the default role '*'"));
            }
            if !seen.insert(config.role.clone()) {
                return Err(invalid(format!(
                    "Role '{}' appears more than once",
                    config.role
                )));
            }
            let quota = quota_of(config)?;
            for (name, guarantee) in quota.guarantees.iter() {
                if let Some(limit) = config.limits.get(name) {
                    if guarantee.as_f64() > limit.value {
                        return Err(invalid(format!(
                            "Quota for role '{}': guarantee of '{name}' ({guarantee}) exceeds its limit ({})",
                            config.role, limit.value
                        )));
                    }
                }
            }
            if config.guarantees.is_empty() && config.limits.is_empty() {
                next.quotas.remove(&config.role);
            } else {
                next.quotas.insert(config.role.clone(), config.clone());
            }
        }
        Ok(next)
    }

    /// Weight infos as GET_WEIGHTS and `/weights` show them.
    pub fn weight_infos(&self) -> Vec<v1::WeightInfo> {
        self.weights
            .iter()
            .map(|(role, weight)| v1::WeightInfo {
                weight: *weight,
                role: Some(role.clone()),
            })
            .collect()
    }
}

impl MasterCore {
    /// The current weights and quotas.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Install already-validated (and persisted) policies.
    pub fn apply_policies(&mut self, policies: Policies) {
        self.allocator.set_weights(&policies.weights);
        for role in self.policies.quotas.keys() {
            if !policies.quotas.contains_key(role) {
                self.allocator.set_quota(role, None);
            }
        }
        for (role, config) in &policies.quotas {
            match quota_of(config) {
                Ok(q) => self.allocator.set_quota(role, Some(q)),
                Err(e) => tracing::error!(role, "stored quota is invalid, ignored: {e}"),
            }
        }
        self.policies = policies;
        self.allocation_pending = true;
    }

    /// The weight of `role` (1 unless set).
    pub fn weight_of(&self, role: &str) -> f64 {
        self.policies.weights.get(role).copied().unwrap_or(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(role: &str, g: &[(&str, f64)], l: &[(&str, f64)]) -> QuotaConfig {
        let m = |xs: &[(&str, f64)]| {
            xs.iter()
                .map(|(k, v)| (k.to_string(), v1::value::Scalar { value: *v }))
                .collect()
        };
        QuotaConfig {
            role: role.into(),
            guarantees: m(g),
            limits: m(l),
        }
    }

    #[test]
    fn weights_are_validated_and_one_means_default() {
        let p = Policies::default();
        let w = |role: &str, weight: f64| v1::WeightInfo {
            weight,
            role: Some(role.into()),
        };
        let p = p.with_weights(&[w("a", 3.0)]).unwrap();
        assert_eq!(p.weights["a"], 3.0);
        assert_eq!(
            p.with_weights(&[w("a", 1.0)]).unwrap().weights["a"],
            1.0,
            "kept, as Mesos does"
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(p.with_weights(&[w("a", bad)]).is_err(), "{bad}");
        }
        assert!(p.with_weights(&[w("bad role", 2.0)]).is_err());
    }

    #[test]
    fn quotas_are_validated() {
        let p = Policies::default();
        let p = p
            .with_quotas(&[q("q", &[("cpus", 2.0)], &[("cpus", 4.0)])])
            .unwrap();
        assert!(p.quotas.contains_key("q"));
        assert!(
            p.with_quotas(&[q("q", &[("cpus", 5.0)], &[("cpus", 4.0)])])
                .is_err(),
            "guarantee above limit"
        );
        assert!(p.with_quotas(&[q("q", &[("cpus", -1.0)], &[])]).is_err());
        assert!(p.with_quotas(&[q("*", &[("cpus", 1.0)], &[])]).is_err());
        assert!(
            p.with_quotas(&[q("q", &[], &[])])
                .unwrap()
                .quotas
                .is_empty(),
            "empty config removes"
        );
    }
}
