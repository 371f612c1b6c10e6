//! Read views of the core in Mesos's legacy JSON shapes (`/state`, `/frameworks`, `/slaves`,
//! `/tasks`, `/roles`, `/state-summary`, `/metrics/snapshot`). These are the keys that UIs and
//! tools (avmesos-cli, dashboards) read; see `shared/reference/mesos-v1-api.md` §4.

use std::collections::{BTreeMap, BTreeSet};

use corral_api::v1;
use corral_resources::Resources;
use serde_json::{json, Map, Value};

use super::records::{Agent, Connection, Framework, Time};
use super::MasterCore;
use crate::res::flat;

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

fn state_name(s: i32) -> &'static str {
    v1::TaskState::try_from(s)
        .map(|s| s.as_str_name())
        .unwrap_or("TASK_UNKNOWN")
}

fn resources_of(proto: &[v1::Resource]) -> Value {
    flat(&Resources::from_proto(proto).unwrap_or_default())
}

/// One task in legacy form.
pub fn task_json(task: &v1::Task) -> Value {
    let role = task
        .resources
        .iter()
        .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.clone()))
        .unwrap_or_else(|| "*".to_string());
    let statuses: Vec<Value> = task
        .statuses
        .iter()
        .map(|s| {
            let mut o =
                json!({"state": state_name(s.state), "timestamp": s.timestamp.unwrap_or(0.0)});
            if let Some(h) = s.healthy {
                o["healthy"] = json!(h);
            }
            if let Some(c) = &s.container_status {
                o["container_status"] = serde_json::to_value(c).unwrap_or(Value::Null);
            }
            if let Some(l) = &s.labels {
                o["labels"] = serde_json::to_value(&l.labels).unwrap_or(Value::Null);
            }
            o
        })
        .collect();
    let mut o = json!({
        "id": task.task_id.value,
        "name": task.name,
        "framework_id": task.framework_id.value,
        "executor_id": task.executor_id.as_ref().map(|e| e.value.clone()).unwrap_or_default(),
        "slave_id": task.agent_id.value,
        "agent_id": task.agent_id.value,
        "state": state_name(task.state),
        "resources": resources_of(&task.resources),
        "role": role,
        "statuses": statuses,
    });
    if let Some(u) = &task.user {
        o["user"] = json!(u);
    }
    if let Some(l) = &task.labels {
        o["labels"] = serde_json::to_value(&l.labels).unwrap_or(Value::Null);
    }
    for (key, value) in [
        (
            "discovery",
            task.discovery.as_ref().map(serde_json::to_value),
        ),
        (
            "container",
            task.container.as_ref().map(serde_json::to_value),
        ),
        (
            "health_check",
            task.health_check.as_ref().map(serde_json::to_value),
        ),
    ] {
        if let Some(Ok(v)) = value {
            o[key] = v;
        }
    }
    o
}

fn seconds(t: Option<Time>) -> Value {
    t.map(|t| json!(t)).unwrap_or(Value::Null)
}

impl MasterCore {
    fn framework_json(&self, f: &Framework, full: bool) -> Value {
        let mut used = Resources::default();
        let mut tasks = Vec::new();
        for task_id in &f.tasks {
            if let Some(r) = self.tasks.get(&(f.id.clone(), task_id.clone())) {
                if !r.terminal {
                    used.add_all(&r.resources);
                }
                tasks.push(task_json(&r.task));
            }
        }
        let mut offered = Resources::default();
        let mut offers = Vec::new();
        for offer_id in &f.offers {
            if let Some(o) = self.offers.get(offer_id) {
                offered.add_all(&o.resources);
                offers.push(json!({
                    "id": offer_id,
                    "framework_id": f.id,
                    "slave_id": o.agent_id,
                    "allocation_info": {"role": o.role},
                    "resources": flat(&o.resources),
                }));
            }
        }
        let capabilities: Vec<&str> = f
            .info
            .capabilities
            .iter()
            .filter_map(|c| c.r#type)
            .filter_map(|t| v1::framework_info::capability::Type::try_from(t).ok())
            .map(|t| t.as_str_name())
            .collect();
        let mut o = json!({
            "id": f.id,
            "name": f.info.name,
            "used_resources": flat(&used),
            "offered_resources": flat(&offered),
            "capabilities": capabilities,
            "hostname": f.info.hostname.clone().unwrap_or_default(),
            "webui_url": f.info.webui_url.clone().unwrap_or_default(),
            "active": f.connected(),
            "connected": f.connected(),
            "recovered": f.recovered,
        });
        if !full {
            return o;
        }
        let executors: Vec<Value> = f
            .executors
            .iter()
            .flat_map(|(agent, es)| es.values().map(move |e| (agent, e)))
            .map(|(agent, e)| {
                let mut v = json!({
                    "executor_id": e.executor_id.value,
                    "name": e.name.clone().unwrap_or_default(),
                    "framework_id": f.id,
                    "resources": resources_of(&e.resources),
                    "slave_id": agent,
                });
                if let Some(c) = &e.command {
                    v["command"] = serde_json::to_value(c).unwrap_or(Value::Null);
                }
                v
            })
            .collect();
        let completed: Vec<Value> = f.completed_tasks.iter().map(task_json).collect();
        let extra = json!({
            "user": f.info.user,
            "failover_timeout": f.info.failover_timeout(),
            "checkpoint": f.info.checkpoint(),
            "registered_time": f.registered_time,
            "unregistered_time": f.unregistered_time.unwrap_or(0.0),
            "reregistered_time": seconds(f.reregistered_time),
            "principal": f.info.principal,
            "resources": flat(&used),
            "role": f.roles.first().cloned().unwrap_or_else(|| "*".to_string()),
            "roles": f.roles,
            "tasks": tasks,
            "unreachable_tasks": [],
            "completed_tasks": completed,
            "offers": offers,
            "executors": executors,
            "suppressed_roles": f.suppressed_roles,
            "why_not_offered": self.allocator.why_not_offered(&f.id, self.clock).into_iter()
                .map(|(role, why)| json!({"role": role, "reason": why})).collect::<Vec<_>>(),
            "labels": f.info.labels.as_ref().map(|l| serde_json::to_value(&l.labels).unwrap_or(Value::Null)),
        });
        if let (Value::Object(o), Value::Object(extra)) = (&mut o, extra) {
            o.extend(extra);
        }
        o
    }

    fn agent_json(&self, a: &Agent) -> Value {
        let attributes: Map<String, Value> = a
            .info
            .attributes
            .iter()
            .map(|attr| (attr.name.clone(), attribute_value(attr)))
            .collect();
        let mut reserved: BTreeMap<String, Resources> = BTreeMap::new();
        let mut unreserved = Resources::default();
        for r in a.total.iter() {
            match r.reservation_role() {
                Some(role) => reserved.entry(role.to_string()).or_default().add(r.clone()),
                None => unreserved.add(r.clone()),
            }
        }
        json!({
            "id": a.id,
            "hostname": a.info.hostname,
            "port": a.info.port.unwrap_or(5051),
            "pid": a.pid,
            "attributes": attributes,
            "registered_time": a.registered_time,
            "reregistered_time": seconds(a.reregistered_time),
            "resources": flat(&a.total),
            "used_resources": flat(&a.used),
            "offered_resources": flat(&a.offered),
            "reserved_resources": reserved.iter().map(|(k, v)| (k.clone(), flat(v))).collect::<Map<_, _>>(),
            "unreserved_resources": flat(&unreserved),
            "active": a.stream_id.is_some(),
            "deactivated": false,
            "version": a.version,
            "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
        })
    }

    /// `/frameworks` (optionally one framework).
    pub fn frameworks_json(&self, only: Option<&str>) -> Value {
        let keep = |id: &str| only.is_none_or(|o| o == id);
        let frameworks: Vec<Value> = self
            .frameworks
            .values()
            .filter(|f| keep(&f.id))
            .map(|f| self.framework_json(f, true))
            .collect();
        let completed: Vec<Value> = self
            .completed_frameworks
            .iter()
            .filter(|f| keep(&f.id))
            .map(|f| self.framework_json(f, true))
            .collect();
        json!({"frameworks": frameworks, "completed_frameworks": completed, "unregistered_frameworks": []})
    }

    /// `/slaves` (optionally one agent).
    pub fn slaves_json(&self, only: Option<&str>) -> Value {
        let slaves: Vec<Value> = self
            .agents
            .values()
            .filter(|a| only.is_none_or(|o| o == a.id))
            .map(|a| self.agent_json(a))
            .collect();
        json!({"slaves": slaves, "recovered_slaves": []})
    }

    /// `/tasks`: running, then completed tasks, filtered and paged.
    pub fn tasks_json(&self, q: &TasksQuery) -> Value {
        let mut all: Vec<&v1::Task> = Vec::new();
        let frameworks = self
            .frameworks
            .values()
            .chain(self.completed_frameworks.iter());
        let mut seen = BTreeSet::new();
        for f in frameworks {
            if q.framework_id.as_deref().is_some_and(|id| id != f.id) || !seen.insert(f.id.clone())
            {
                continue;
            }
            for t in &f.tasks {
                if let Some(r) = self.tasks.get(&(f.id.clone(), t.clone())) {
                    all.push(&r.task);
                }
            }
            all.extend(f.completed_tasks.iter());
        }
        if let Some(id) = &q.task_id {
            all.retain(|t| &t.task_id.value == id);
        }
        if !q.order_asc {
            all.reverse();
        }
        let offset = q.offset.unwrap_or(0);
        let limit = match q.limit {
            Some(l) if l < 0 => usize::MAX,
            Some(l) => usize::try_from(l).unwrap_or(usize::MAX),
            None => 100,
        };
        let tasks: Vec<Value> = all
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(task_json)
            .collect();
        json!({"tasks": tasks})
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

    fn header_json(&self, id: &Identity) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("version".into(), json!(corral_api::MESOS_COMPAT_VERSION));
        m.insert("build_date".into(), json!(""));
        m.insert("build_time".into(), json!(0));
        m.insert("build_user".into(), json!("corral"));
        m.insert("start_time".into(), json!(self.start_time));
        m.insert("elected_time".into(), json!(self.start_time));
        m.insert("id".into(), json!(self.info.id));
        m.insert("pid".into(), json!(id.pid));
        m.insert(
            "hostname".into(),
            json!(self.info.hostname.clone().unwrap_or_default()),
        );
        m.insert("leader".into(), json!(id.pid));
        m.insert(
            "leader_info".into(),
            serde_json::to_value(&self.info).unwrap_or(Value::Null),
        );
        if let Some(c) = &id.cluster {
            m.insert("cluster".into(), json!(c));
        }
        m
    }

    /// `/state`.
    pub fn state_json(&self, id: &Identity) -> Value {
        let mut m = self.header_json(id);
        let active = self
            .agents
            .values()
            .filter(|a| a.stream_id.is_some())
            .count();
        m.insert("activated_slaves".into(), json!(active));
        m.insert("deactivated_slaves".into(), json!(0));
        m.insert(
            "unreachable_slaves".into(),
            json!(self.unreachable_agents.len()),
        );
        m.insert("flags".into(), json!(id.flags));
        m.insert(
            "capabilities".into(),
            json!(["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"]),
        );
        let fw = self.frameworks_json(None);
        m.insert("slaves".into(), self.slaves_json(None)["slaves"].clone());
        m.insert("recovered_slaves".into(), json!([]));
        m.insert("frameworks".into(), fw["frameworks"].clone());
        m.insert(
            "completed_frameworks".into(),
            fw["completed_frameworks"].clone(),
        );
        m.insert("orphan_tasks".into(), json!([]));
        m.insert("unregistered_frameworks".into(), json!([]));
        Value::Object(m)
    }

    /// `/state-summary`.
    pub fn state_summary_json(&self, id: &Identity) -> Value {
        let slaves: Vec<Value> = self.agents.values().map(|a| self.agent_json(a)).collect();
        let frameworks: Vec<Value> = self
            .frameworks
            .values()
            .map(|f| {
                let mut v = self.framework_json(f, false);
                let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
                for t in &f.tasks {
                    if let Some(r) = self.tasks.get(&(f.id.clone(), t.clone())) {
                        *counts.entry(state_name(r.task.state)).or_default() += 1;
                    }
                }
                for (state, n) in counts {
                    v[state] = json!(n);
                }
                v
            })
            .collect();
        json!({
            "hostname": self.info.hostname.clone().unwrap_or_default(),
            "cluster": id.cluster.clone().unwrap_or_default(),
            "slaves": slaves,
            "frameworks": frameworks,
        })
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

fn attribute_value(attr: &v1::Attribute) -> Value {
    if let Some(t) = &attr.text {
        return json!(t.value);
    }
    if let Some(s) = &attr.scalar {
        return json!(s.value);
    }
    if let Some(r) = &attr.ranges {
        let parts: Vec<String> = r
            .range
            .iter()
            .map(|r| format!("{}-{}", r.begin, r.end))
            .collect();
        return json!(format!("[{}]", parts.join(", ")));
    }
    if let Some(s) = &attr.set {
        return json!(format!("{{{}}}", s.item.join(", ")));
    }
    Value::Null
}
