//! [`SimClusterBuilder`]: what a simulated cluster starts with (frameworks first, then agents).

use super::*;

/// Agents of one shape.
#[derive(Debug, Clone)]
struct AgentGroup {
    count: usize,
    resources: String,
    attributes: Option<String>,
}

/// Frameworks to subscribe.
#[derive(Debug, Clone)]
struct FrameworkDef {
    name: String,
    roles: Vec<String>,
}

/// Builds a [`SimCluster`]: frameworks subscribe first, then agents register, in order.
pub struct SimClusterBuilder {
    config: CoreConfig,
    allocator: Option<Box<dyn Allocator>>,
    agents: Vec<AgentGroup>,
    frameworks: Vec<FrameworkDef>,
    seed: u64,
}

impl Default for SimClusterBuilder {
    fn default() -> Self {
        Self {
            config: CoreConfig::default(),
            allocator: None,
            agents: Vec::new(),
            frameworks: Vec::new(),
            seed: 1,
        }
    }
}

impl SimClusterBuilder {
    /// The core's configuration (completed-task limits, timeouts, …).
    pub fn config(mut self, config: CoreConfig) -> Self {
        self.config = config;
        self
    }

    /// The allocator (first-fit when not set).
    pub fn allocator(mut self, allocator: Box<dyn Allocator>) -> Self {
        self.allocator = Some(allocator);
        self
    }

    /// `count` agents with `resources` (agent `--resources` syntax, e.g.
    /// `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`).
    pub fn agents(mut self, count: usize, resources: &str) -> Self {
        self.agents.push(AgentGroup {
            count,
            resources: resources.to_string(),
            attributes: None,
        });
        self
    }

    /// `count` agents with `resources` and `attributes` (agent `--attributes` syntax, e.g.
    /// `rack:r1;zone:a`).
    pub fn agents_with_attributes(
        mut self,
        count: usize,
        resources: &str,
        attributes: &str,
    ) -> Self {
        self.agents.push(AgentGroup {
            count,
            resources: resources.to_string(),
            attributes: Some(attributes.to_string()),
        });
        self
    }

    /// One framework subscribed with `roles` (MULTI_ROLE).
    pub fn framework(mut self, name: &str, roles: &[&str]) -> Self {
        self.frameworks.push(FrameworkDef {
            name: name.to_string(),
            roles: roles.iter().map(|r| (*r).to_string()).collect(),
        });
        self
    }

    /// `count` frameworks, the i-th in role `roles[i % roles.len()]` (`*` when empty).
    pub fn frameworks(mut self, count: usize, roles: &[&str]) -> Self {
        for i in 0..count {
            let role = if roles.is_empty() {
                "*"
            } else {
                roles[i % roles.len()]
            };
            let n = self.frameworks.len();
            self.frameworks.push(FrameworkDef {
                name: format!("sim-framework-{n}"),
                roles: vec![role.to_string()],
            });
        }
        self
    }

    /// Seed of the cluster's random choices.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Subscribe the frameworks and register the agents.
    pub fn build(self) -> Result<SimCluster, SimError> {
        let info = v1::MasterInfo {
            id: "sim-master".to_string(),
            ip: u32::from_le_bytes([127, 0, 0, 1]),
            port: 5050,
            hostname: Some("localhost".to_string()),
            pid: Some("master@127.0.0.1:5050".to_string()),
            version: Some(corral_api::MESOS_COMPAT_VERSION.to_string()),
            ..Default::default()
        };
        let allocator = self
            .allocator
            .unwrap_or_else(|| Box::new(FirstFitAllocator::new()));
        let core = MasterCore::new(self.config, info, 1, allocator, SIM_START);
        let mut sim = SimCluster::around(core, self.seed);
        for f in &self.frameworks {
            let roles: Vec<&str> = f.roles.iter().map(String::as_str).collect();
            sim.add_framework(&f.name, &roles)?;
        }
        for group in &self.agents {
            sim.add_agents(group.count, &group.resources, group.attributes.as_deref())?;
        }
        Ok(sim)
    }
}
