//! Read views of the core in Mesos's legacy JSON shapes (`/state`, `/frameworks`, `/slaves`,
//! `/tasks`, `/roles`, `/state-summary`, `/metrics/snapshot`). These are the keys that UIs and
//! tools (avmesos-cli, dashboards) read; see `shared/reference/mesos-v1-api.md` §4.
//!
//! The big views are typed serializers borrowing from the core ([`render`]); `/roles` and the
//! metrics are small and stay `serde_json::Value`s.

mod flat;
#[cfg(test)]
mod oracle;
mod render;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use corral_api::v1;
use corral_resources::Resources;
use serde_json::{json, Map, Value};

use super::records::{Connection, Time};
use super::MasterCore;
use crate::res::flat;

pub(crate) use render::to_bytes;
pub use render::{FrameworksView, SlavesView, StateSummaryView, StateView, TaskView, TasksView};

/// Static facts about this master process for the views (from flags and the build).
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `master@ip:port`.
    pub pid: String,
    /// Flags as strings, for `/state` and `/flags`.
    pub flags: BTreeMap<String, String>,
    /// Optional cluster name.
    pub cluster: Option<String>,
}

/// What a role uses, for `/roles`, GET_ROLES and metrics.
#[derive(Debug, Default)]
pub(crate) struct RoleUsage {
    pub frameworks: BTreeSet<String>,
    pub allocated: Resources,
    pub offered: Resources,
    pub reserved: Resources,
}

/// `/tasks` query parameters.
#[derive(Debug, Clone, Default)]
pub struct TasksQuery {
    /// Max tasks returned; negative means unlimited. Default 100.
    pub limit: Option<i64>,
    /// Skip this many.
    pub offset: Option<usize>,
    /// `asc` or `des` (default) by task id order of insertion.
    pub order_asc: bool,
    /// Only this framework's tasks.
    pub framework_id: Option<String>,
    /// Only this task.
    pub task_id: Option<String>,
}

/// One task in legacy form, as a JSON value (the views serialize [`TaskView`] directly).
pub fn task_json(task: &v1::Task) -> Value {
    serde_json::to_value(TaskView(task)).unwrap_or(Value::Null)
}

fn state_name(s: i32) -> &'static str {
    v1::TaskState::try_from(s)
        .map(|s| s.as_str_name())
        .unwrap_or("TASK_UNKNOWN")
}

impl MasterCore {
    /// A framework's tasks remembered on agents that became unreachable, as Mesos shows them:
    /// with `unreachable` the ones in TASK_UNREACHABLE (the framework's `unreachable_tasks`),
    /// without it the others (TASK_LOST for frameworks that are not partition-aware,
    /// TASK_GONE_BY_OPERATOR once the agent was marked gone), shown after its completed tasks.
    pub(crate) fn partitioned_tasks<'a>(
        &'a self,
        framework_id: &str,
        unreachable: bool,
    ) -> impl Iterator<Item = &'a v1::Task> + 'a {
        self.unreachable_tasks
            .get(framework_id)
            .into_iter()
            .flat_map(|tasks| tasks.values())
            .map(|t| &t.task)
            .filter(move |t| (t.state == v1::TaskState::TaskUnreachable as i32) == unreachable)
    }

    /// `/state` as a JSON value, for callers that inspect it; the HTTP handler serializes
    /// [`MasterCore::state_view`] straight to bytes instead.
    pub fn state_json(&self, id: &Identity) -> Value {
        serde_json::to_value(self.state_view(id)).unwrap_or(Value::Null)
    }

    /// `/roles`.
    /// Per role: frameworks, resources allocated (used by tasks), offered and reserved.
    pub(crate) fn role_usage(&self) -> BTreeMap<String, RoleUsage> {
        let mut roles: BTreeMap<String, RoleUsage> = BTreeMap::new();
        for f in self.frameworks.values() {
            for role in &f.roles {
                roles
                    .entry(role.clone())
                    .or_default()
                    .frameworks
                    .insert(f.id.clone());
            }
        }
        for r in self.tasks.values().filter(|r| !r.terminal) {
            roles
                .entry(r.role.clone())
                .or_default()
                .allocated
                .add_all(&r.resources);
        }
        for o in self.offers.values() {
            roles
                .entry(o.role.clone())
                .or_default()
                .offered
                .add_all(&o.resources);
        }
        for a in self.agents.values() {
            for (role, reserved) in a.total.reservations() {
                roles.entry(role).or_default().reserved.add_all(&reserved);
            }
        }
        for role in self
            .policies
            .weights
            .keys()
            .chain(self.policies.quotas.keys())
        {
            roles.entry(role.clone()).or_default();
        }
        roles
    }

    /// `/roles`.
    pub fn roles_json(&self) -> Value {
        let list: Vec<Value> = self
            .role_usage()
            .into_iter()
            .map(|(name, u)| {
                let mut both = u.allocated.clone();
                both.add_all(&u.offered);
                let quota = self.policies.quotas.get(&name);
                let scalars =
                    |m: Option<&BTreeMap<String, v1::value::Scalar>>| -> Map<String, Value> {
                        m.map(|m| m.iter().map(|(k, v)| (k.clone(), json!(v.value))).collect())
                            .unwrap_or_default()
                    };
                let why: Vec<Value> = u
                    .frameworks
                    .iter()
                    .flat_map(|f| {
                        self.allocator
                            .why_not_offered(f, self.clock)
                            .into_iter()
                            .filter(|(role, _)| *role == name)
                            .map(move |(_, reason)| json!({"framework_id": f, "reason": reason}))
                    })
                    .collect();
                json!({
                    "name": name,
                    "weight": self.weight_of(&name),
                    "frameworks": u.frameworks,
                    "resources": flat(&both),
                    "allocated": flat(&u.allocated),
                    "offered": flat(&u.offered),
                    "reserved": flat(&u.reserved),
                    "quota": {
                        "role": name,
                        "guarantee": scalars(quota.map(|q| &q.guarantees)),
                        "limit": scalars(quota.map(|q| &q.limits)),
                        "consumed": flat(&both),
                    },
                    "why_not_offered": why,
                })
            })
            .collect();
        json!({"roles": list})
    }

    /// `/metrics/snapshot` (master part): a flat map of numbers.
    pub fn metrics(&self, now: Time) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: f64| {
            m.insert(k.to_string(), v);
        };
        put("master/elected", 1.0);
        put("master/uptime_secs", (now - self.start_time).max(0.0));
        let (total, used, offered) = self.cluster_totals();
        for name in ["cpus", "gpus", "mem", "disk"] {
            let t = total.scalar_total(name);
            let u = used.scalar_total(name);
            put(&format!("master/{name}_total"), t);
            put(&format!("master/{name}_used"), u);
            put(
                &format!("master/{name}_percent"),
                if t > 0.0 { u / t } else { 0.0 },
            );
            put(
                &format!("master/{name}_offered"),
                offered.scalar_total(name),
            );
        }
        let connected = self
            .agents
            .values()
            .filter(|a| a.stream_id.is_some())
            .count() as f64;
        put("master/slaves_active", self.agents.len() as f64);
        put("master/slaves_connected", connected);
        put(
            "master/slaves_disconnected",
            self.agents.len() as f64 - connected,
        );
        put("master/slaves_inactive", 0.0);
        put(
            "master/slaves_unreachable",
            self.unreachable_agents.len() as f64,
        );
        let fw_connected = self.frameworks.values().filter(|f| f.connected()).count() as f64;
        put("master/frameworks_active", fw_connected);
        put("master/frameworks_connected", fw_connected);
        put(
            "master/frameworks_disconnected",
            self.frameworks.len() as f64 - fw_connected,
        );
        put(
            "master/frameworks_inactive",
            self.frameworks.len() as f64 - fw_connected,
        );
        put("master/outstanding_offers", self.offers.len() as f64);
        let mut live: BTreeMap<&str, u64> = BTreeMap::new();
        for r in self.tasks.values() {
            *live.entry(state_name(r.task.state)).or_default() += 1;
        }
        for state in [
            "TASK_STAGING",
            "TASK_STARTING",
            "TASK_RUNNING",
            "TASK_KILLING",
        ] {
            let key = format!(
                "master/tasks_{}",
                state.trim_start_matches("TASK_").to_lowercase()
            );
            put(&key, *live.get(state).unwrap_or(&0) as f64);
        }
        for state in [
            "TASK_FINISHED",
            "TASK_FAILED",
            "TASK_KILLED",
            "TASK_LOST",
            "TASK_ERROR",
            "TASK_DROPPED",
            "TASK_UNREACHABLE",
            "TASK_GONE",
            "TASK_GONE_BY_OPERATOR",
        ] {
            let key = format!(
                "master/tasks_{}",
                state.trim_start_matches("TASK_").to_lowercase()
            );
            put(
                &key,
                *self.counters.tasks_terminal.get(state).unwrap_or(&0) as f64,
            );
        }
        put(
            "master/valid_status_updates",
            self.counters.valid_status_updates as f64,
        );
        put(
            "master/invalid_status_updates",
            self.counters.invalid_status_updates as f64,
        );
        put(
            "master/messages_decline_offers",
            self.counters.offers_declined as f64,
        );
        put("master/offers_sent", self.counters.offers_sent as f64);
        put(
            "master/offers_rescinded",
            self.counters.offers_rescinded as f64,
        );
        put("master/slave_removals", self.counters.agents_removed as f64);
        for (role, u) in self.role_usage() {
            for (what, r) in [
                ("allocated", &u.allocated),
                ("offered", &u.offered),
                ("reserved", &u.reserved),
            ] {
                for name in ["cpus", "mem", "disk", "gpus"] {
                    let key = format!("allocator/mesos/roles/{role}/resources/{name}/{what}");
                    m.insert(key, r.scalar_total(name));
                }
            }
            if let Some(q) = self.policies.quotas.get(&role) {
                for (kind, map) in [("guarantee", &q.guarantees), ("limit", &q.limits)] {
                    for (name, v) in map {
                        m.insert(
                            format!("allocator/mesos/quota/roles/{role}/resources/{name}/{kind}"),
                            v.value,
                        );
                    }
                }
                let mut consumed = u.allocated.clone();
                consumed.add_all(&u.offered);
                for name in q.guarantees.keys().chain(q.limits.keys()) {
                    let key =
                        format!("allocator/mesos/quota/roles/{role}/resources/{name}/consumed");
                    m.insert(key, consumed.scalar_total(name));
                }
            }
        }
        m
    }

    /// Whether the framework is known (active or completed).
    pub fn has_framework(&self, id: &str) -> bool {
        self.frameworks.contains_key(id)
    }

    /// The framework's stream id if it is connected.
    pub fn framework_stream(&self, id: &str) -> Option<&str> {
        match self.frameworks.get(id).map(|f| &f.connection) {
            Some(Connection::Connected { stream_id }) => Some(stream_id),
            _ => None,
        }
    }
}
