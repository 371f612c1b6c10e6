//! The operator API's read views (`POST /api/v1`, `mesos.v1.master.Response` payloads).

use corral_api::v1::master::response;
use corral_api::v1::{self, TimeInfo};
use corral_resources::Resources;

use super::records::{Agent, Framework, Time};
use super::MasterCore;

fn time(t: Time) -> TimeInfo {
    #[allow(clippy::cast_possible_truncation)]
    TimeInfo {
        nanoseconds: (t * 1e9) as i64,
    }
}

impl MasterCore {
    fn operator_agent(&self, a: &Agent) -> response::get_agents::Agent {
        let mut allocated = a.used.clone();
        allocated.allocate("*");
        response::get_agents::Agent {
            agent_info: a.info.clone(),
            active: a.stream_id.is_some(),
            deactivated: Some(false),
            version: a.version.clone(),
            pid: Some(a.pid.clone()),
            registered_time: Some(time(a.registered_time)),
            reregistered_time: a.reregistered_time.map(time),
            total_resources: a.total.to_proto(),
            allocated_resources: a.used.to_proto(),
            offered_resources: a.offered.to_proto(),
            ..Default::default()
        }
    }

    fn operator_framework(&self, f: &Framework) -> response::get_frameworks::Framework {
        let mut allocated = Resources::default();
        for t in &f.tasks {
            if let Some(r) = self.tasks.get(&(f.id.clone(), t.clone())) {
                if !r.terminal {
                    let mut x = r.resources.clone();
                    x.allocate(&r.role);
                    allocated.add_all(&x);
                }
            }
        }
        let offers: Vec<v1::Offer> = f
            .offers
            .iter()
            .filter_map(|o| self.offers.get(o))
            .map(|o| o.offer.clone())
            .collect();
        let mut offered = Resources::default();
        for o in f.offers.iter().filter_map(|o| self.offers.get(o)) {
            offered.add_all(&o.resources);
        }
        response::get_frameworks::Framework {
            framework_info: f.info.clone(),
            active: f.connected(),
            connected: f.connected(),
            recovered: f.recovered,
            registered_time: Some(time(f.registered_time)),
            reregistered_time: f.reregistered_time.map(time),
            unregistered_time: f.unregistered_time.map(time),
            offers,
            allocated_resources: allocated.to_proto(),
            offered_resources: offered.to_proto(),
            ..Default::default()
        }
    }

    /// GET_AGENTS.
    pub fn get_agents(&self) -> response::GetAgents {
        response::GetAgents {
            agents: self
                .agents
                .values()
                .map(|a| self.operator_agent(a))
                .collect(),
            recovered_agents: self
                .recovery
                .recovered
                .values()
                .map(|a| a.info.clone())
                .collect(),
        }
    }

    /// GET_FRAMEWORKS.
    pub fn get_frameworks(&self) -> response::GetFrameworks {
        response::GetFrameworks {
            frameworks: self
                .frameworks
                .values()
                .map(|f| self.operator_framework(f))
                .collect(),
            completed_frameworks: self
                .completed_frameworks
                .iter()
                .map(|f| self.operator_framework(f))
                .collect(),
            ..Default::default()
        }
    }

    /// GET_EXECUTORS.
    pub fn get_executors(&self) -> response::GetExecutors {
        let executors = self
            .frameworks
            .values()
            .flat_map(|f| f.executors.iter())
            .flat_map(|(agent, es)| {
                es.values().map(move |e| response::get_executors::Executor {
                    executor_info: e.clone(),
                    agent_id: v1::AgentId {
                        value: agent.clone(),
                    },
                })
            })
            .collect();
        response::GetExecutors {
            executors,
            ..Default::default()
        }
    }

    /// GET_TASKS. Tasks on unreachable agents are `unreachable_tasks` (TASK_UNREACHABLE) or,
    /// once no longer unreachable for their framework (TASK_LOST, TASK_GONE_BY_OPERATOR),
    /// completed, as in `/state`.
    pub fn get_tasks(&self) -> response::GetTasks {
        // Remembered per framework id (a framework may also be listed as completed).
        let ids: std::collections::BTreeSet<&str> = self
            .frameworks
            .keys()
            .map(String::as_str)
            .chain(self.completed_frameworks.iter().map(|f| f.id.as_str()))
            .collect();
        response::GetTasks {
            tasks: self.tasks.values().map(|r| r.task.clone()).collect(),
            unreachable_tasks: ids
                .iter()
                .flat_map(|id| self.partitioned_tasks(id, true).cloned())
                .collect(),
            completed_tasks: self
                .frameworks
                .values()
                .chain(self.completed_frameworks.iter())
                .flat_map(|f| f.completed_tasks.iter().cloned())
                .chain(
                    ids.iter()
                        .flat_map(|id| self.partitioned_tasks(id, false).cloned()),
                )
                .collect(),
            ..Default::default()
        }
    }

    /// GET_ROLES.
    pub fn get_roles(&self) -> response::GetRoles {
        response::GetRoles {
            roles: self
                .role_usage()
                .into_iter()
                .map(|(name, u)| {
                    let mut resources = u.allocated.clone();
                    resources.add_all(&u.offered);
                    v1::Role {
                        weight: self.weight_of(&name),
                        name,
                        frameworks: u
                            .frameworks
                            .into_iter()
                            .map(|value| v1::FrameworkId { value })
                            .collect(),
                        resources: resources.to_proto(),
                    }
                })
                .collect(),
        }
    }

    /// GET_MASTER.
    pub fn get_master(&self) -> response::GetMaster {
        response::GetMaster {
            master_info: Some(self.info.clone()),
            start_time: Some(self.start_time),
            elected_time: Some(self.start_time),
        }
    }
}
