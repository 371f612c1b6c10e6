//! Frameworks, masters, agents.

use super::*;

pub fn capability(t: v1::framework_info::capability::Type) -> v1::framework_info::Capability {
    v1::framework_info::Capability {
        r#type: Some(t as i32),
    }
}

pub fn framework_info() -> v1::FrameworkInfo {
    use v1::framework_info::capability::Type as C;
    let mut quantities = BTreeMap::new();
    quantities.insert("cpus".to_string(), v1::value::Scalar { value: 1.0 });
    quantities.insert("mem".to_string(), v1::value::Scalar { value: 64.0 });
    let mut offer_filters = BTreeMap::new();
    offer_filters.insert(
        "web".to_string(),
        v1::OfferFilters {
            min_allocatable_resources: Some(v1::offer_filters::MinAllocatableResources {
                quantities: vec![v1::offer_filters::ResourceQuantities { quantities }],
            }),
        },
    );
    v1::FrameworkInfo {
        user: "alice".to_string(),
        name: "marathon-like".to_string(),
        id: Some(framework_id()),
        failover_timeout: Some(604_800.0),
        checkpoint: Some(true),
        role: Some("*".to_string()),
        roles: vec!["web".to_string(), "batch/etl".to_string()],
        hostname: Some("scheduler1.example.com".to_string()),
        principal: Some("fw-principal".to_string()),
        webui_url: Some("http://scheduler1.example.com:8080/".to_string()),
        capabilities: vec![
            capability(C::MultiRole),
            capability(C::PartitionAware),
            capability(C::TaskKillingState),
            capability(C::GpuResources),
            capability(C::ReservationRefinement),
            capability(C::RegionAware),
            capability(C::RevocableResources),
            capability(C::SharedResources),
        ],
        labels: Some(labels(&[("team", Some("infra")), ("env", Some("prod"))])),
        offer_filters,
    }
}

pub fn master_info() -> v1::MasterInfo {
    use v1::master_info::capability::Type as C;
    v1::MasterInfo {
        id: MASTER_ID.to_string(),
        ip: 16_777_343,
        port: 5050,
        pid: Some("master@127.0.0.1:5050".to_string()),
        hostname: Some("master1.example.com".to_string()),
        version: Some("1.11.0".to_string()),
        address: Some(address("master1.example.com", "127.0.0.1", 5050)),
        domain: Some(domain()),
        capabilities: [C::AgentUpdate, C::AgentDraining, C::QuotaV2]
            .into_iter()
            .map(|t| v1::master_info::Capability {
                r#type: Some(t as i32),
            })
            .collect(),
    }
}

pub fn agent_info() -> v1::AgentInfo {
    v1::AgentInfo {
        hostname: "agent1.example.com".to_string(),
        port: Some(5051),
        resources: vec![
            scalar("cpus", 8.0),
            scalar("mem", 31_744.0),
            ranges("ports", &[(31000, 32000)]),
        ],
        attributes: attributes(),
        id: Some(agent_id()),
        domain: Some(domain()),
    }
}
