//! The legacy JSON views (`/state`, `/state-summary`, `/frameworks`, `/slaves`, `/tasks`) as
//! typed serializers that borrow from the core and write straight to bytes: no intermediate
//! `serde_json::Value` tree and no clones of tasks or statuses.
//!
//! Every object writes its keys in sorted order, as the former `Value` trees did (serde_json's
//! map is a `BTreeMap`), so the bytes are unchanged; `tests.rs` checks this against the former
//! implementation. Nested protos whose derived field order is not alphabetical (container,
//! discovery, health check, container status, command, master info) go through
//! [`serde_json::Value`] for the same reason — they are rare.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use bytes::Bytes;
use corral_api::v1;
use corral_http::encoding::AsciiFormatter;
use corral_resources::Resources;
use serde::ser::{Error as _, Serialize, SerializeMap, Serializer};
use serde_json::ser::Formatter;

use super::flat::Flat;
use super::{state_name, Identity, TasksQuery};
use crate::core::records::{Agent, Framework, TaskRecord};
use crate::core::MasterCore;

/// Serializes `value` as compact, ASCII-only JSON: the bytes of
/// `corral_http::encoding::to_ascii_json`, faster on ASCII text.
pub(crate) fn to_bytes(value: &impl Serialize) -> Result<Bytes, serde_json::Error> {
    let mut out = Vec::with_capacity(4096);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, FastAscii);
    value.serialize(&mut serializer)?;
    Ok(Bytes::from(out))
}

/// [`AsciiFormatter`] with a fast path for fragments that are already ASCII (nearly all).
#[derive(Clone, Copy)]
struct FastAscii;

impl Formatter for FastAscii {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        if fragment.is_ascii() {
            return writer.write_all(fragment.as_bytes());
        }
        AsciiFormatter.write_string_fragment(writer, fragment)
    }
}

/// A sequence produced on demand by an iterator factory.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// `[]`.
struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(std::iter::empty::<()>())
    }
}

/// An agent recovered from the registry that has not re-registered (`recovered_slaves`):
/// its AgentInfo as Mesos writes a SlaveInfo.
struct RecoveredView<'a>(&'a str, &'a v1::AgentInfo);

impl Serialize for RecoveredView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let info = self.1;
        let attributes: BTreeMap<&str, AttributeValue<'_>> = info
            .attributes
            .iter()
            .map(|attr| (attr.name.as_str(), attribute_value(attr)))
            .collect();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("attributes", &attributes)?;
        m.serialize_entry("hostname", &info.hostname)?;
        m.serialize_entry("id", self.0)?;
        m.serialize_entry("port", &info.port.unwrap_or(5051))?;
        m.serialize_entry("resources", &Flat::Proto(&info.resources))?;
        m.end()
    }
}

/// The `recovered_slaves` array.
fn recovered(core: &MasterCore) -> impl Serialize + '_ {
    Seq(|| {
        core.recovered_agents()
            .iter()
            .map(|(id, a)| RecoveredView(id, &a.info))
    })
}

/// A proto written with sorted keys (through `serde_json::Value`).
struct Sorted<'a, T>(&'a T);

impl<T: Serialize> Serialize for Sorted<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_json::to_value(self.0)
            .map_err(S::Error::custom)?
            .serialize(s)
    }
}

/// One task in legacy form.
pub struct TaskView<'a>(pub &'a v1::Task);

impl Serialize for TaskView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let role = t
            .resources
            .iter()
            .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.as_deref()))
            .unwrap_or("*");
        // A proto that cannot become a JSON value leaves its key out.
        let value =
            |v: Option<Result<serde_json::Value, serde_json::Error>>| v.and_then(Result::ok);
        let container = value(t.container.as_ref().map(serde_json::to_value));
        let discovery = value(t.discovery.as_ref().map(serde_json::to_value));
        let health_check = value(t.health_check.as_ref().map(serde_json::to_value));
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("agent_id", &t.agent_id.value)?;
        if let Some(v) = &container {
            m.serialize_entry("container", v)?;
        }
        if let Some(v) = &discovery {
            m.serialize_entry("discovery", v)?;
        }
        let executor_id = t.executor_id.as_ref().map_or("", |e| e.value.as_str());
        m.serialize_entry("executor_id", executor_id)?;
        m.serialize_entry("framework_id", &t.framework_id.value)?;
        if let Some(v) = &health_check {
            m.serialize_entry("health_check", v)?;
        }
        m.serialize_entry("id", &t.task_id.value)?;
        if let Some(l) = &t.labels {
            m.serialize_entry("labels", &l.labels)?;
        }
        m.serialize_entry("name", &t.name)?;
        m.serialize_entry("resources", &Flat::Proto(&t.resources))?;
        m.serialize_entry("role", role)?;
        m.serialize_entry("slave_id", &t.agent_id.value)?;
        m.serialize_entry("state", state_name(t.state))?;
        m.serialize_entry("statuses", &Seq(|| t.statuses.iter().map(StatusView)))?;
        if let Some(u) = &t.user {
            m.serialize_entry("user", u)?;
        }
        m.end()
    }
}

/// One entry of a task's `statuses`.
struct StatusView<'a>(&'a v1::TaskStatus);

impl Serialize for StatusView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let st = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(c) = &st.container_status {
            m.serialize_entry("container_status", &Sorted(c))?;
        }
        if let Some(h) = st.healthy {
            m.serialize_entry("healthy", &h)?;
        }
        if let Some(l) = &st.labels {
            m.serialize_entry("labels", &l.labels)?;
        }
        m.serialize_entry("state", state_name(st.state))?;
        m.serialize_entry("timestamp", &st.timestamp.unwrap_or(0.0))?;
        m.end()
    }
}

/// One framework: `full` for `/state` and `/frameworks`, otherwise the `/state-summary` form
/// (with task counts by state).
struct FrameworkView<'a> {
    core: &'a MasterCore,
    f: &'a Framework,
    full: bool,
}

impl Serialize for FrameworkView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (core, f) = (self.core, self.f);
        let mut used = Resources::default();
        for r in core.framework_tasks(f) {
            if !r.terminal {
                used.add_all(&r.resources);
            }
        }
        let offers = || {
            f.offers
                .iter()
                .filter_map(|id| core.offers.get(id).map(|o| (id, o)))
        };
        let mut offered = Resources::default();
        for (_, o) in offers() {
            offered.add_all(&o.resources);
        }
        let capabilities = Seq(|| {
            f.info
                .capabilities
                .iter()
                .filter_map(|c| c.r#type)
                .filter_map(|t| v1::framework_info::capability::Type::try_from(t).ok())
                .map(|t| t.as_str_name())
        });
        let hostname = f.info.hostname.as_deref().unwrap_or_default();
        let webui_url = f.info.webui_url.as_deref().unwrap_or_default();

        let mut m = s.serialize_map(None)?;
        if !self.full {
            let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
            for r in core.framework_tasks(f) {
                *counts.entry(state_name(r.task.state)).or_default() += 1;
            }
            // `TASK_*` sort before the lower-case keys.
            for (state, n) in &counts {
                m.serialize_entry(state, n)?;
            }
            m.serialize_entry("active", &f.connected())?;
            m.serialize_entry("capabilities", &capabilities)?;
            m.serialize_entry("connected", &f.connected())?;
            m.serialize_entry("hostname", hostname)?;
            m.serialize_entry("id", &f.id)?;
            m.serialize_entry("name", &f.info.name)?;
            m.serialize_entry("offered_resources", &Flat::Res(&offered))?;
            m.serialize_entry("recovered", &f.recovered)?;
            m.serialize_entry("used_resources", &Flat::Res(&used))?;
            m.serialize_entry("webui_url", webui_url)?;
            return m.end();
        }
        let why: Vec<(String, String)> = core.allocator.why_not_offered(&f.id, core.clock);
        m.serialize_entry("active", &f.connected())?;
        m.serialize_entry("capabilities", &capabilities)?;
        m.serialize_entry("checkpoint", &f.info.checkpoint())?;
        m.serialize_entry(
            "completed_tasks",
            &Seq(|| {
                f.completed_tasks
                    .iter()
                    .chain(core.partitioned_tasks(&f.id, false))
                    .map(TaskView)
            }),
        )?;
        m.serialize_entry("connected", &f.connected())?;
        m.serialize_entry(
            "executors",
            &Seq(|| {
                f.executors
                    .iter()
                    .flat_map(|(agent, es)| es.values().map(move |e| ExecutorView { f, agent, e }))
            }),
        )?;
        m.serialize_entry("failover_timeout", &f.info.failover_timeout())?;
        m.serialize_entry("hostname", hostname)?;
        m.serialize_entry("id", &f.id)?;
        m.serialize_entry("labels", &f.info.labels.as_ref().map(|l| &l.labels))?;
        m.serialize_entry("name", &f.info.name)?;
        m.serialize_entry("offered_resources", &Flat::Res(&offered))?;
        m.serialize_entry(
            "offers",
            &Seq(|| offers().map(|(id, o)| OfferView { id, f, o })),
        )?;
        m.serialize_entry("principal", &f.info.principal)?;
        m.serialize_entry("recovered", &f.recovered)?;
        m.serialize_entry("registered_time", &f.registered_time)?;
        m.serialize_entry("reregistered_time", &f.reregistered_time)?;
        m.serialize_entry("resources", &Flat::Res(&used))?;
        m.serialize_entry("role", f.roles.first().map_or("*", String::as_str))?;
        m.serialize_entry("roles", &f.roles)?;
        m.serialize_entry("suppressed_roles", &f.suppressed_roles)?;
        m.serialize_entry(
            "tasks",
            &Seq(|| core.framework_tasks(f).map(|r| TaskView(&r.task))),
        )?;
        m.serialize_entry(
            "unreachable_tasks",
            &Seq(|| core.partitioned_tasks(&f.id, true).map(TaskView)),
        )?;
        m.serialize_entry("unregistered_time", &f.unregistered_time.unwrap_or(0.0))?;
        m.serialize_entry("used_resources", &Flat::Res(&used))?;
        m.serialize_entry("user", &f.info.user)?;
        m.serialize_entry("webui_url", webui_url)?;
        m.serialize_entry(
            "why_not_offered",
            &Seq(|| why.iter().map(|(role, reason)| WhyView { role, reason })),
        )?;
        m.end()
    }
}

struct ExecutorView<'a> {
    f: &'a Framework,
    agent: &'a str,
    e: &'a v1::ExecutorInfo,
}

impl Serialize for ExecutorView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.e;
        let mut m = s.serialize_map(None)?;
        if let Some(c) = &e.command {
            // As before: a command that cannot become a JSON value is `null`.
            let v = serde_json::to_value(c).unwrap_or(serde_json::Value::Null);
            m.serialize_entry("command", &v)?;
        }
        m.serialize_entry("executor_id", &e.executor_id.value)?;
        m.serialize_entry("framework_id", &self.f.id)?;
        m.serialize_entry("name", e.name.as_deref().unwrap_or_default())?;
        m.serialize_entry("resources", &Flat::Proto(&e.resources))?;
        m.serialize_entry("slave_id", self.agent)?;
        m.end()
    }
}

struct OfferView<'a> {
    id: &'a str,
    f: &'a Framework,
    o: &'a crate::core::records::OfferRecord,
}

impl Serialize for OfferView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("allocation_info", &RoleOnly(&self.o.role))?;
        m.serialize_entry("framework_id", &self.f.id)?;
        m.serialize_entry("id", self.id)?;
        m.serialize_entry("resources", &Flat::Res(&self.o.resources))?;
        m.serialize_entry("slave_id", &self.o.agent_id)?;
        m.end()
    }
}

/// `{"role": …}`.
struct RoleOnly<'a>(&'a str);

impl Serialize for RoleOnly<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("role", self.0)?;
        m.end()
    }
}

struct WhyView<'a> {
    role: &'a str,
    reason: &'a str,
}

impl Serialize for WhyView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("reason", self.reason)?;
        m.serialize_entry("role", self.role)?;
        m.end()
    }
}

/// A value of an agent's `attributes` map.
enum AttributeValue<'a> {
    Text(&'a str),
    Scalar(f64),
    Formatted(String),
    Null,
}

impl Serialize for AttributeValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AttributeValue::Text(t) => s.serialize_str(t),
            AttributeValue::Scalar(v) => s.serialize_f64(*v),
            AttributeValue::Formatted(t) => s.serialize_str(t),
            AttributeValue::Null => s.serialize_unit(),
        }
    }
}

fn attribute_value(attr: &v1::Attribute) -> AttributeValue<'_> {
    if let Some(t) = &attr.text {
        return AttributeValue::Text(&t.value);
    }
    if let Some(s) = &attr.scalar {
        return AttributeValue::Scalar(s.value);
    }
    if let Some(r) = &attr.ranges {
        let parts: Vec<String> = r
            .range
            .iter()
            .map(|r| format!("{}-{}", r.begin, r.end))
            .collect();
        return AttributeValue::Formatted(format!("[{}]", parts.join(", ")));
    }
    if let Some(s) = &attr.set {
        return AttributeValue::Formatted(format!("{{{}}}", s.item.join(", ")));
    }
    AttributeValue::Null
}

/// One agent.
struct AgentView<'a>(&'a Agent);

impl Serialize for AgentView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        // A later attribute of the same name wins, as with any JSON object built in order.
        let attributes: BTreeMap<&str, AttributeValue<'_>> = a
            .info
            .attributes
            .iter()
            .map(|attr| (attr.name.as_str(), attribute_value(attr)))
            .collect();
        let mut reserved: BTreeMap<&str, Resources> = BTreeMap::new();
        let mut unreserved = Resources::default();
        for r in a.total.iter() {
            match r.reservation_role() {
                Some(role) => reserved.entry(role).or_default().add(r.clone()),
                None => unreserved.add(r.clone()),
            }
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("active", &a.stream_id.is_some())?;
        m.serialize_entry("attributes", &attributes)?;
        m.serialize_entry(
            "capabilities",
            &["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
        )?;
        m.serialize_entry("deactivated", &false)?;
        m.serialize_entry("hostname", &a.info.hostname)?;
        m.serialize_entry("id", &a.id)?;
        m.serialize_entry("offered_resources", &Flat::Res(&a.offered))?;
        m.serialize_entry("pid", &a.pid)?;
        m.serialize_entry("port", &a.info.port.unwrap_or(5051))?;
        m.serialize_entry("registered_time", &a.registered_time)?;
        m.serialize_entry("reregistered_time", &a.reregistered_time)?;
        m.serialize_entry(
            "reserved_resources",
            &Seq(|| reserved.iter().map(|(k, v)| (k, Flat::Res(v)))).into_map(),
        )?;
        m.serialize_entry("resources", &Flat::Res(&a.total))?;
        m.serialize_entry("unreserved_resources", &Flat::Res(&unreserved))?;
        m.serialize_entry("used_resources", &Flat::Res(&a.used))?;
        m.serialize_entry("version", &a.version)?;
        m.end()
    }
}

/// A map produced on demand from `(key, value)` pairs.
struct MapOf<F>(F);

impl<F> Seq<F> {
    fn into_map(self) -> MapOf<F> {
        MapOf(self.0)
    }
}

impl<F, I, K, V> Serialize for MapOf<F>
where
    F: Fn() -> I,
    I: Iterator<Item = (K, V)>,
    K: Serialize,
    V: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map((self.0)())
    }
}

/// `/frameworks` (optionally one framework).
pub struct FrameworksView<'a> {
    core: &'a MasterCore,
    only: Option<&'a str>,
}

impl Serialize for FrameworksView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (core, only) = (self.core, self.only);
        let keep = move |f: &&Framework| only.is_none_or(|o| o == f.id);
        let full = move |f| FrameworkView {
            core,
            f,
            full: true,
        };
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry(
            "completed_frameworks",
            &Seq(|| core.completed_frameworks.iter().filter(keep).map(full)),
        )?;
        m.serialize_entry(
            "frameworks",
            &Seq(|| core.frameworks.values().filter(keep).map(full)),
        )?;
        m.serialize_entry("unregistered_frameworks", &Empty)?;
        m.end()
    }
}

/// `/slaves` (optionally one agent).
pub struct SlavesView<'a> {
    core: &'a MasterCore,
    only: Option<&'a str>,
}

impl Serialize for SlavesView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let only = self.only;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("recovered_slaves", &recovered(self.core))?;
        m.serialize_entry(
            "slaves",
            &Seq(|| {
                self.core
                    .agents
                    .values()
                    .filter(move |a| only.is_none_or(|o| o == a.id))
                    .map(AgentView)
            }),
        )?;
        m.end()
    }
}

/// `/tasks`.
pub struct TasksView<'a> {
    tasks: Vec<&'a v1::Task>,
}

impl Serialize for TasksView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("tasks", &Seq(|| self.tasks.iter().map(|t| TaskView(t))))?;
        m.end()
    }
}

/// `/state`.
pub struct StateView<'a> {
    core: &'a MasterCore,
    id: &'a Identity,
}

impl Serialize for StateView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (core, id) = (self.core, self.id);
        let active = core
            .agents
            .values()
            .filter(|a| a.stream_id.is_some())
            .count();
        let full = move |f| FrameworkView {
            core,
            f,
            full: true,
        };
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("activated_slaves", &active)?;
        m.serialize_entry("build_date", "")?;
        m.serialize_entry("build_time", &0)?;
        m.serialize_entry("build_user", "corral")?;
        m.serialize_entry(
            "capabilities",
            &["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
        )?;
        if let Some(c) = &id.cluster {
            m.serialize_entry("cluster", c)?;
        }
        m.serialize_entry(
            "completed_frameworks",
            &Seq(|| core.completed_frameworks.iter().map(full)),
        )?;
        m.serialize_entry("deactivated_slaves", &0)?;
        m.serialize_entry("elected_time", &core.start_time)?;
        m.serialize_entry("flags", &id.flags)?;
        m.serialize_entry("frameworks", &Seq(|| core.frameworks.values().map(full)))?;
        m.serialize_entry(
            "hostname",
            core.info.hostname.as_deref().unwrap_or_default(),
        )?;
        m.serialize_entry("id", &core.info.id)?;
        m.serialize_entry("leader", &id.pid)?;
        // As before: master info that cannot become a JSON value is `null`.
        let leader_info = serde_json::to_value(&core.info).unwrap_or(serde_json::Value::Null);
        m.serialize_entry("leader_info", &leader_info)?;
        m.serialize_entry("orphan_tasks", &Empty)?;
        m.serialize_entry("pid", &id.pid)?;
        m.serialize_entry("recovered_slaves", &recovered(core))?;
        m.serialize_entry("slaves", &Seq(|| core.agents.values().map(AgentView)))?;
        m.serialize_entry("start_time", &core.start_time)?;
        m.serialize_entry("unreachable_slaves", &core.unreachable_agents.len())?;
        m.serialize_entry("unregistered_frameworks", &Empty)?;
        m.serialize_entry("version", corral_api::MESOS_COMPAT_VERSION)?;
        m.end()
    }
}

/// `/state-summary`.
pub struct StateSummaryView<'a> {
    core: &'a MasterCore,
    id: &'a Identity,
}

impl Serialize for StateSummaryView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let core = self.core;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("cluster", self.id.cluster.as_deref().unwrap_or_default())?;
        m.serialize_entry(
            "frameworks",
            &Seq(|| {
                core.frameworks.values().map(|f| FrameworkView {
                    core,
                    f,
                    full: false,
                })
            }),
        )?;
        m.serialize_entry(
            "hostname",
            core.info.hostname.as_deref().unwrap_or_default(),
        )?;
        m.serialize_entry("slaves", &Seq(|| core.agents.values().map(AgentView)))?;
        m.end()
    }
}

impl MasterCore {
    /// The framework's non-completed task records, in task id order (a merge of its id set
    /// with its range of the task map: no lookups, no key clones per task).
    pub(crate) fn framework_tasks<'a>(
        &'a self,
        f: &'a Framework,
    ) -> impl Iterator<Item = &'a TaskRecord> + 'a {
        let mut records = self
            .tasks
            .range((f.id.clone(), String::new())..)
            .take_while(move |((fw, _), _)| *fw == f.id)
            .map(|((_, id), r)| (id.as_str(), &**r))
            .peekable();
        f.tasks.iter().filter_map(move |wanted| {
            while let Some(&(id, r)) = records.peek() {
                match id.cmp(wanted.as_str()) {
                    std::cmp::Ordering::Less => {
                        records.next();
                    }
                    std::cmp::Ordering::Equal => {
                        records.next();
                        return Some(r);
                    }
                    std::cmp::Ordering::Greater => return None,
                }
            }
            None
        })
    }

    /// `/state`, ready to serialize.
    pub fn state_view<'a>(&'a self, id: &'a Identity) -> StateView<'a> {
        StateView { core: self, id }
    }

    /// `/state-summary`, ready to serialize.
    pub fn state_summary_view<'a>(&'a self, id: &'a Identity) -> StateSummaryView<'a> {
        StateSummaryView { core: self, id }
    }

    /// `/frameworks` (optionally one framework), ready to serialize.
    pub fn frameworks_view<'a>(&'a self, only: Option<&'a str>) -> FrameworksView<'a> {
        FrameworksView { core: self, only }
    }

    /// `/slaves` (optionally one agent), ready to serialize.
    pub fn slaves_view<'a>(&'a self, only: Option<&'a str>) -> SlavesView<'a> {
        SlavesView { core: self, only }
    }

    /// `/tasks`: running, unreachable, then completed tasks, filtered and paged, ready to
    /// serialize.
    pub fn tasks_view(&self, q: &TasksQuery) -> TasksView<'_> {
        let mut all: Vec<&v1::Task> = Vec::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for f in self
            .frameworks
            .values()
            .chain(self.completed_frameworks.iter())
        {
            if q.framework_id.as_deref().is_some_and(|id| id != f.id) || !seen.insert(&f.id) {
                continue;
            }
            all.extend(self.framework_tasks(f).map(|r| &r.task));
            all.extend(self.partitioned_tasks(&f.id, true));
            all.extend(f.completed_tasks.iter());
            all.extend(self.partitioned_tasks(&f.id, false));
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
        TasksView {
            tasks: all.into_iter().skip(offset).take(limit).collect(),
        }
    }
}
