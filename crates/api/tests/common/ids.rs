//! Identifiers and small pieces: ids, labels, durations, domains, addresses, URLs.

use super::*;

pub const MASTER_ID: &str = "7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c";

/// The uuid of the reference's UPDATE example, `ex7g5Uh8TG6VsY62GCHBng==`.
pub const UUID_B64: &str = "ex7g5Uh8TG6VsY62GCHBng==";
pub const UUID_BYTES: [u8; 16] = [
    0x7b, 0x1e, 0xe0, 0xe5, 0x48, 0x7c, 0x4c, 0x6e, 0x95, 0xb1, 0x8e, 0xb6, 0x18, 0x21, 0xc1, 0x9e,
];

pub fn framework_id() -> v1::FrameworkId {
    v1::FrameworkId {
        value: format!("{MASTER_ID}-0000"),
    }
}
pub fn agent_id() -> v1::AgentId {
    v1::AgentId {
        value: format!("{MASTER_ID}-S0"),
    }
}
pub fn offer_id(n: u32) -> v1::OfferId {
    v1::OfferId {
        value: format!("{MASTER_ID}-O{n}"),
    }
}
pub fn task_id(name: &str) -> v1::TaskId {
    v1::TaskId {
        value: name.to_string(),
    }
}
pub fn executor_id(name: &str) -> v1::ExecutorId {
    v1::ExecutorId {
        value: name.to_string(),
    }
}
pub fn operation_id(name: &str) -> v1::OperationId {
    v1::OperationId {
        value: name.to_string(),
    }
}
pub fn provider_id() -> v1::ResourceProviderId {
    v1::ResourceProviderId {
        value: "rp-csi-lvm".to_string(),
    }
}
pub fn container_id() -> v1::ContainerId {
    v1::ContainerId {
        value: "c2b1f0e9-nested".to_string(),
        parent: Some(Box::new(v1::ContainerId {
            value: "a1b2c3d4-e5f6-4711-8899-aabbccddeeff".to_string(),
            parent: None,
        })),
    }
}

/// The 16 bytes of [`UUID_B64`].
pub fn uuid_bytes() -> Vec<u8> {
    UUID_BYTES.to_vec()
}

pub fn labels(pairs: &[(&str, Option<&str>)]) -> v1::Labels {
    v1::Labels {
        labels: pairs
            .iter()
            .map(|(k, v)| v1::Label {
                key: (*k).to_string(),
                value: v.map(str::to_string),
            })
            .collect(),
    }
}

pub fn duration_secs(secs: i64) -> v1::DurationInfo {
    v1::DurationInfo {
        nanoseconds: secs * 1_000_000_000,
    }
}

pub fn domain() -> v1::DomainInfo {
    v1::DomainInfo {
        fault_domain: Some(v1::domain_info::FaultDomain {
            region: v1::domain_info::fault_domain::RegionInfo {
                name: "eu-west".to_string(),
            },
            zone: v1::domain_info::fault_domain::ZoneInfo {
                name: "eu-west-1b".to_string(),
            },
        }),
    }
}

pub fn address(hostname: &str, ip: &str, port: i32) -> v1::Address {
    v1::Address {
        hostname: Some(hostname.to_string()),
        ip: Some(ip.to_string()),
        port,
    }
}

pub fn agent_url() -> v1::Url {
    v1::Url {
        scheme: "http".to_string(),
        address: address("agent1.example.com", "10.0.0.5", 5051),
        path: Some("/slave(1)".to_string()),
        query: vec![v1::Parameter {
            key: "jsonp".to_string(),
            value: "cb".to_string(),
        }],
        fragment: Some("top".to_string()),
    }
}

pub fn unavailability() -> v1::Unavailability {
    v1::Unavailability {
        start: v1::TimeInfo {
            nanoseconds: 1_700_000_000_000_000_000,
        },
        duration: Some(duration_secs(3600)),
    }
}
