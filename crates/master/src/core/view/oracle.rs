//! The former `serde_json::Value` implementation of the legacy views, kept as the oracle the
//! typed serializers of `render.rs` are checked against byte for byte (see `tests.rs`).

use std::collections::{BTreeMap, BTreeSet};

use corral_api::v1;
use corral_resources::Resources;
use serde_json::{json, Map, Value};

use super::{state_name, Identity, TasksQuery};
use crate::core::records::{Agent, Framework, Time};
use crate::core::MasterCore;
use crate::res::flat;

fn resources_of(proto: &[v1::Resource]) -> Value {
    flat(&Resources::from_proto(proto).unwrap_or_default())
}

/// One task in legacy form.
pub(super) fn task_json(task: &v1::Task) -> Value {
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

pub(super) struct Old<'a>(pub &'a MasterCore);

impl Old<'_> {
    fn framework_json(&self, f: &Framework, full: bool) -> Value {
        let mut used = Resources::default();
        let mut tasks = Vec::new();
        for task_id in &f.tasks {
            if let Some(r) = self.0.tasks.get(&(f.id.clone(), task_id.clone())) {
                if !r.terminal {
                    used.add_all(&r.resources);
                }
                tasks.push(task_json(&r.task));
            }
        }
        let mut offered = Resources::default();
        let mut offers = Vec::new();
        for offer_id in &f.offers {
            if let Some(o) = self.0.offers.get(offer_id) {
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
        // Tasks on unreachable agents: TASK_UNREACHABLE ones are `unreachable_tasks`; the
        // others (TASK_LOST, TASK_GONE_BY_OPERATOR) follow the completed tasks.
        let partitioned: Vec<&v1::Task> = self
            .0
            .unreachable_tasks
            .get(&f.id)
            .map(|ts| ts.values().map(|t| &t.task).collect())
            .unwrap_or_default();
        let is_unreachable = |t: &&&v1::Task| t.state() == v1::TaskState::TaskUnreachable;
        let unreachable: Vec<Value> = partitioned
            .iter()
            .filter(is_unreachable)
            .map(|t| task_json(t))
            .collect();
        let completed: Vec<Value> = f
            .completed_tasks
            .iter()
            .chain(partitioned.iter().filter(|t| !is_unreachable(t)).copied())
            .map(task_json)
            .collect();
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
            "unreachable_tasks": unreachable,
            "completed_tasks": completed,
            "offers": offers,
            "executors": executors,
            "suppressed_roles": f.suppressed_roles,
            "why_not_offered": self.0.allocator.why_not_offered(&f.id, self.0.clock).into_iter()
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
            .0
            .frameworks
            .values()
            .filter(|f| keep(&f.id))
            .map(|f| self.framework_json(f, true))
            .collect();
        let completed: Vec<Value> = self
            .0
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
            .0
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
            .0
            .frameworks
            .values()
            .chain(self.0.completed_frameworks.iter());
        let mut seen = BTreeSet::new();
        for f in frameworks {
            if q.framework_id.as_deref().is_some_and(|id| id != f.id) || !seen.insert(f.id.clone())
            {
                continue;
            }
            for t in &f.tasks {
                if let Some(r) = self.0.tasks.get(&(f.id.clone(), t.clone())) {
                    all.push(&r.task);
                }
            }
            let partitioned: Vec<&v1::Task> = self
                .0
                .unreachable_tasks
                .get(&f.id)
                .map(|ts| ts.values().map(|t| &t.task).collect())
                .unwrap_or_default();
            let unreachable = |t: &&v1::Task| t.state() == v1::TaskState::TaskUnreachable;
            all.extend(partitioned.iter().copied().filter(unreachable));
            all.extend(f.completed_tasks.iter());
            all.extend(partitioned.iter().copied().filter(|t| !unreachable(t)));
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

    fn header_json(&self, id: &Identity) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("version".into(), json!(corral_api::MESOS_COMPAT_VERSION));
        m.insert("build_date".into(), json!(""));
        m.insert("build_time".into(), json!(0));
        m.insert("build_user".into(), json!("corral"));
        m.insert("start_time".into(), json!(self.0.start_time));
        m.insert("elected_time".into(), json!(self.0.start_time));
        m.insert("id".into(), json!(self.0.info.id));
        m.insert("pid".into(), json!(id.pid));
        m.insert(
            "hostname".into(),
            json!(self.0.info.hostname.clone().unwrap_or_default()),
        );
        m.insert("leader".into(), json!(id.pid));
        m.insert(
            "leader_info".into(),
            serde_json::to_value(&self.0.info).unwrap_or(Value::Null),
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
            .0
            .agents
            .values()
            .filter(|a| a.stream_id.is_some())
            .count();
        m.insert("activated_slaves".into(), json!(active));
        m.insert("deactivated_slaves".into(), json!(0));
        m.insert(
            "unreachable_slaves".into(),
            json!(self.0.unreachable_agents.len()),
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
        let slaves: Vec<Value> = self.0.agents.values().map(|a| self.agent_json(a)).collect();
        let frameworks: Vec<Value> = self
            .0
            .frameworks
            .values()
            .map(|f| {
                let mut v = self.framework_json(f, false);
                let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
                for t in &f.tasks {
                    if let Some(r) = self.0.tasks.get(&(f.id.clone(), t.clone())) {
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
            "hostname": self.0.info.hostname.clone().unwrap_or_default(),
            "cluster": id.cluster.clone().unwrap_or_default(),
            "slaves": slaves,
            "frameworks": frameworks,
        })
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
