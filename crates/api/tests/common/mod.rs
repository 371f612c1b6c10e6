//! Builders of realistic, richly populated Mesos v1 values for the wire tests.
//!
//! Every builder fills as many fields as a real master, agent or framework would (and a few
//! more), so that a round trip exercises every JSON helper (enums, bytes, numbers, maps,
//! repeated fields) and every protobuf field number on the way.

#![allow(dead_code, deprecated)]

use std::collections::BTreeMap;
use std::fmt::Debug;

use corral_api::v1;
use corral_api::v1::{executor, scheduler};
use prost::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// Round-trip helpers
// ---------------------------------------------------------------------------------------------

/// JSON-encodes and decodes `value`; the error says which step failed and shows the JSON.
pub fn json_roundtrip<T: Serialize + DeserializeOwned>(value: &T) -> Result<T, String> {
    let text = serde_json::to_string(value).map_err(|e| format!("encode: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("decode: {e}\n  json: {text}"))
}

/// Protobuf-encodes and decodes `value`.
pub fn proto_roundtrip<T: Message + Default>(value: &T) -> Result<T, String> {
    T::decode(value.encode_to_vec().as_slice()).map_err(|e| format!("decode: {e}"))
}

/// Checks `value == decode(encode(value))` in both encodings; returns a description of every
/// mismatch (empty when both round trips are exact).
pub fn check_both<T>(label: &str, value: &T) -> Vec<String>
where
    T: Message + Default + Serialize + DeserializeOwned + PartialEq + Debug,
{
    let mut problems = Vec::new();
    match json_roundtrip(value) {
        Ok(back) if back == *value => {}
        Ok(back) => problems.push(format!(
            "{label}: JSON round trip changed the value\n  before: {value:?}\n  after:  {back:?}"
        )),
        Err(e) => problems.push(format!("{label}: JSON {e}")),
    }
    match proto_roundtrip(value) {
        Ok(back) if back == *value => {}
        Ok(back) => problems.push(format!(
            "{label}: protobuf round trip changed the value\n  before: {value:?}\n  after:  {back:?}"
        )),
        Err(e) => problems.push(format!("{label}: protobuf {e}")),
    }
    problems
}

/// Panics listing every problem, if any.
pub fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// `serde_json::Value` of `value`.
pub fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("serializes")
}

// ---------------------------------------------------------------------------------------------
// Identifiers and small pieces
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Resources and attributes
// ---------------------------------------------------------------------------------------------

pub fn scalar(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.to_string(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        ..Default::default()
    }
}

pub fn ranges(name: &str, bounds: &[(u64, u64)]) -> v1::Resource {
    v1::Resource {
        name: name.to_string(),
        r#type: v1::value::Type::Ranges as i32,
        ranges: Some(v1::value::Ranges {
            range: bounds
                .iter()
                .map(|&(begin, end)| v1::value::Range { begin, end })
                .collect(),
        }),
        ..Default::default()
    }
}

pub fn set(name: &str, items: &[&str]) -> v1::Resource {
    v1::Resource {
        name: name.to_string(),
        r#type: v1::value::Type::Set as i32,
        set: Some(v1::value::Set {
            item: items.iter().map(|s| (*s).to_string()).collect(),
        }),
        ..Default::default()
    }
}

pub fn allocated(mut r: v1::Resource, role: &str) -> v1::Resource {
    r.allocation_info = Some(v1::resource::AllocationInfo {
        role: Some(role.to_string()),
    });
    r
}

/// A static reservation for `role` refined by a dynamic one for `role/sub` (innermost last).
pub fn reserved(mut r: v1::Resource, role: &str) -> v1::Resource {
    r.reservations = vec![
        v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Static as i32),
            role: Some(role.to_string()),
            principal: None,
            labels: None,
        },
        v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
            role: Some(format!("{role}/sub")),
            principal: Some("ops".to_string()),
            labels: Some(labels(&[("owner", Some("team-a")), ("flag", None)])),
        },
    ];
    r
}

/// A persistent volume on a MOUNT disk, reserved and allocated to `role`.
pub fn persistent_volume(role: &str) -> v1::Resource {
    let mut r = reserved(scalar("disk", 2048.0), role);
    r.disk = Some(v1::resource::DiskInfo {
        persistence: Some(v1::resource::disk_info::Persistence {
            id: "pv-1".to_string(),
            principal: Some("ops".to_string()),
        }),
        volume: Some(v1::Volume {
            mode: v1::volume::Mode::Rw as i32,
            container_path: "data".to_string(),
            ..Default::default()
        }),
        source: Some(v1::resource::disk_info::Source {
            r#type: v1::resource::disk_info::source::Type::Mount as i32,
            path: None,
            mount: Some(v1::resource::disk_info::source::Mount {
                root: Some("/mnt/disk1".to_string()),
            }),
            vendor: Some("org.example".to_string()),
            id: Some("vol-0001".to_string()),
            metadata: Some(labels(&[("tier", Some("ssd"))])),
            profile: Some("fast".to_string()),
        }),
    });
    allocated(r, role)
}

/// The resources of a realistic offer to `role`: scalars, port ranges, a set, a reserved and
/// refined scalar, a revocable and a shared resource, a persistent volume, a provider resource,
/// and a pre-refinement (`role`/`reservation`) resource.
pub fn offer_resources(role: &str) -> Vec<v1::Resource> {
    let mut revocable = scalar("cpus", 0.5);
    revocable.revocable = Some(v1::resource::RevocableInfo {});
    let mut shared = persistent_volume(role);
    shared.shared = Some(v1::resource::SharedInfo {});
    let mut provided = scalar("disk", 10240.0);
    provided.provider_id = Some(provider_id());
    let mut old_format = scalar("mem", 256.0);
    old_format.role = Some(role.to_string());
    old_format.reservation = Some(v1::resource::ReservationInfo {
        principal: Some("ops".to_string()),
        ..Default::default()
    });
    vec![
        allocated(scalar("cpus", 3.75), role),
        allocated(scalar("mem", 15_872.125), role),
        allocated(ranges("ports", &[(31000, 31099), (31200, 32000)]), role),
        allocated(set("disks", &["sda", "sdb"]), role),
        allocated(reserved(scalar("gpus", 1.0), role), role),
        allocated(revocable, role),
        shared,
        allocated(provided, role),
        allocated(old_format, role),
    ]
}

pub fn task_resources() -> Vec<v1::Resource> {
    vec![
        allocated(scalar("cpus", 0.1), "web"),
        allocated(scalar("mem", 32.0), "web"),
        allocated(ranges("ports", &[(31000, 31001)]), "web"),
    ]
}

pub fn attributes() -> Vec<v1::Attribute> {
    vec![
        v1::Attribute {
            name: "rack".to_string(),
            r#type: v1::value::Type::Text as i32,
            text: Some(v1::value::Text {
                value: "r1".to_string(),
            }),
            ..Default::default()
        },
        v1::Attribute {
            name: "ssd_speed".to_string(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value: 3.5 }),
            ..Default::default()
        },
        v1::Attribute {
            name: "ports_ok".to_string(),
            r#type: v1::value::Type::Ranges as i32,
            ranges: Some(v1::value::Ranges {
                range: vec![v1::value::Range {
                    begin: 1,
                    end: 1024,
                }],
            }),
            ..Default::default()
        },
        v1::Attribute {
            name: "features".to_string(),
            r#type: v1::value::Type::Set as i32,
            set: Some(v1::value::Set {
                item: vec!["avx2".to_string(), "sgx".to_string()],
            }),
            ..Default::default()
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Frameworks, masters, agents
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Commands, containers, checks
// ---------------------------------------------------------------------------------------------

pub fn secret_value(data: &[u8]) -> v1::Secret {
    v1::Secret {
        r#type: Some(v1::secret::Type::Value as i32),
        reference: None,
        value: Some(v1::secret::Value {
            data: data.to_vec(),
        }),
    }
}

pub fn secret_reference(name: &str) -> v1::Secret {
    v1::Secret {
        r#type: Some(v1::secret::Type::Reference as i32),
        reference: Some(v1::secret::Reference {
            name: name.to_string(),
            key: Some("password".to_string()),
        }),
        value: None,
    }
}

pub fn command_info() -> v1::CommandInfo {
    use v1::environment::variable::Type as V;
    v1::CommandInfo {
        uris: vec![
            v1::command_info::Uri {
                value: "http://repo.example.com/app.tgz".to_string(),
                executable: Some(false),
                extract: Some(true),
                cache: Some(true),
                output_file: Some("app.tgz".to_string()),
            },
            v1::command_info::Uri {
                value: "http://repo.example.com/run.sh".to_string(),
                executable: Some(true),
                extract: Some(false),
                cache: None,
                output_file: None,
            },
        ],
        environment: Some(v1::Environment {
            variables: vec![
                v1::environment::Variable {
                    name: "APP_MODE".to_string(),
                    r#type: Some(V::Value as i32),
                    value: Some("production".to_string()),
                    secret: None,
                },
                v1::environment::Variable {
                    name: "DB_PASSWORD".to_string(),
                    r#type: Some(V::Secret as i32),
                    value: None,
                    secret: Some(secret_reference("/db/creds")),
                },
            ],
        }),
        shell: Some(false),
        value: Some("/usr/bin/env".to_string()),
        arguments: vec![
            "env".to_string(),
            "-i".to_string(),
            "./run.sh --port=$PORT0".to_string(),
        ],
        user: Some("nobody".to_string()),
    }
}

pub fn shell_command(cmd: &str) -> v1::CommandInfo {
    v1::CommandInfo {
        shell: Some(true),
        value: Some(cmd.to_string()),
        ..Default::default()
    }
}

pub fn docker_container() -> v1::ContainerInfo {
    use v1::container_info::docker_info::{Network, PortMapping};
    v1::ContainerInfo {
        r#type: v1::container_info::Type::Docker as i32,
        volumes: vec![v1::Volume {
            mode: v1::volume::Mode::Ro as i32,
            container_path: "/etc/nginx/conf.d".to_string(),
            host_path: Some("/srv/nginx".to_string()),
            ..Default::default()
        }],
        hostname: Some("web-1".to_string()),
        docker: Some(v1::container_info::DockerInfo {
            image: "nginx:1.25".to_string(),
            network: Some(Network::Bridge as i32),
            port_mappings: vec![
                PortMapping {
                    host_port: 31000,
                    container_port: 80,
                    protocol: Some("tcp".to_string()),
                },
                PortMapping {
                    host_port: 31001,
                    container_port: 443,
                    protocol: None,
                },
            ],
            privileged: Some(false),
            parameters: vec![
                v1::Parameter {
                    key: "log-driver".to_string(),
                    value: "journald".to_string(),
                },
                v1::Parameter {
                    key: "label".to_string(),
                    value: "a=b".to_string(),
                },
            ],
            force_pull_image: Some(true),
            volume_driver: None,
        }),
        mesos: None,
        network_infos: vec![v1::NetworkInfo {
            name: Some("bridge".to_string()),
            port_mappings: vec![v1::network_info::PortMapping {
                host_port: 31000,
                container_port: 80,
                protocol: Some("tcp".to_string()),
            }],
            ..Default::default()
        }],
        linux_info: None,
        rlimit_info: None,
        tty_info: None,
    }
}

pub fn mesos_container() -> v1::ContainerInfo {
    use v1::volume::source::csi_volume::volume_capability as vc;
    use v1::volume::source::{self as vs, csi_volume};
    let mut node_stage_secrets = BTreeMap::new();
    node_stage_secrets.insert("key".to_string(), secret_value(b"\x00\x01secret\xff"));
    let mut volume_context = BTreeMap::new();
    volume_context.insert("fs".to_string(), "xfs".to_string());
    v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        volumes: vec![
            v1::Volume {
                mode: v1::volume::Mode::Rw as i32,
                container_path: "/data".to_string(),
                host_path: Some("/srv/data".to_string()),
                image: None,
                source: None,
            },
            v1::Volume {
                mode: v1::volume::Mode::Rw as i32,
                container_path: "/shared".to_string(),
                host_path: None,
                image: None,
                source: Some(v1::volume::Source {
                    r#type: Some(vs::Type::SandboxPath as i32),
                    sandbox_path: Some(vs::SandboxPath {
                        r#type: Some(vs::sandbox_path::Type::Parent as i32),
                        path: "shared".to_string(),
                    }),
                    ..Default::default()
                }),
            },
            v1::Volume {
                mode: v1::volume::Mode::Ro as i32,
                container_path: "/run/secrets/token".to_string(),
                host_path: None,
                image: None,
                source: Some(v1::volume::Source {
                    r#type: Some(vs::Type::Secret as i32),
                    secret: Some(secret_value(b"token-bytes")),
                    ..Default::default()
                }),
            },
            v1::Volume {
                mode: v1::volume::Mode::Rw as i32,
                container_path: "/var/lib/db".to_string(),
                host_path: None,
                image: None,
                source: Some(v1::volume::Source {
                    r#type: Some(vs::Type::HostPath as i32),
                    host_path: Some(vs::HostPath {
                        path: "/var/lib/db".to_string(),
                        mount_propagation: Some(v1::MountPropagation {
                            mode: Some(v1::mount_propagation::Mode::Bidirectional as i32),
                        }),
                    }),
                    ..Default::default()
                }),
            },
            v1::Volume {
                mode: v1::volume::Mode::Rw as i32,
                container_path: "/csi".to_string(),
                host_path: None,
                image: None,
                source: Some(v1::volume::Source {
                    r#type: Some(vs::Type::CsiVolume as i32),
                    csi_volume: Some(vs::CsiVolume {
                        plugin_name: "org.example.lvm".to_string(),
                        static_provisioning: Some(csi_volume::StaticProvisioning {
                            volume_id: "vg0/lv1".to_string(),
                            volume_capability: csi_volume::VolumeCapability {
                                access_mode: vc::AccessMode {
                                    mode: vc::access_mode::Mode::SingleNodeWriter as i32,
                                },
                                access_type: Some(vc::AccessType::Mount(vc::MountVolume {
                                    fs_type: Some("xfs".to_string()),
                                    mount_flags: vec!["noatime".to_string()],
                                })),
                            },
                            node_stage_secrets,
                            node_publish_secrets: BTreeMap::new(),
                            volume_context,
                        }),
                    }),
                    ..Default::default()
                }),
            },
        ],
        hostname: Some("worker-7".to_string()),
        docker: None,
        mesos: Some(v1::container_info::MesosInfo {
            image: Some(v1::Image {
                r#type: v1::image::Type::Docker as i32,
                appc: None,
                docker: Some(v1::image::Docker {
                    name: "alpine:3".to_string(),
                    credential: None,
                    config: Some(secret_reference("/registry/config")),
                }),
                cached: Some(false),
            }),
        }),
        network_infos: vec![v1::NetworkInfo {
            ip_addresses: vec![v1::network_info::IpAddress {
                protocol: Some(v1::network_info::Protocol::IPv6 as i32),
                ip_address: None,
            }],
            name: Some("cni-net".to_string()),
            groups: vec!["frontend".to_string(), "monitoring".to_string()],
            labels: Some(labels(&[("cni", Some("calico"))])),
            port_mappings: vec![],
        }],
        linux_info: Some(v1::LinuxInfo {
            capability_info: None,
            bounding_capabilities: Some(v1::CapabilityInfo {
                capabilities: vec![
                    v1::capability_info::Capability::NetBindService as i32,
                    v1::capability_info::Capability::Chown as i32,
                    v1::capability_info::Capability::Kill as i32,
                ],
            }),
            effective_capabilities: Some(v1::CapabilityInfo {
                capabilities: vec![v1::capability_info::Capability::NetBindService as i32],
            }),
            share_pid_namespace: Some(false),
            seccomp: Some(v1::SeccompInfo {
                profile_name: Some("default.json".to_string()),
                unconfined: Some(false),
            }),
            ipc_mode: Some(v1::linux_info::IpcMode::Private as i32),
            shm_size: Some(64),
            share_cgroups: Some(true),
        }),
        rlimit_info: Some(v1::RLimitInfo {
            rlimits: vec![
                v1::r_limit_info::RLimit {
                    r#type: Some(v1::r_limit_info::r_limit::Type::RlmtNofile as i32),
                    hard: Some(65_536),
                    soft: Some(4_096),
                },
                v1::r_limit_info::RLimit {
                    r#type: Some(v1::r_limit_info::r_limit::Type::RlmtCore as i32),
                    hard: None,
                    soft: None,
                },
            ],
        }),
        tty_info: Some(v1::TtyInfo {
            window_size: Some(v1::tty_info::WindowSize {
                rows: 24,
                columns: 80,
            }),
        }),
    }
}

pub fn health_check() -> v1::HealthCheck {
    v1::HealthCheck {
        delay_seconds: Some(5.0),
        interval_seconds: Some(2.5),
        timeout_seconds: Some(1.0),
        consecutive_failures: Some(5),
        grace_period_seconds: Some(30.0),
        r#type: Some(v1::health_check::Type::Http as i32),
        command: None,
        http: Some(v1::health_check::HttpCheckInfo {
            protocol: Some(v1::network_info::Protocol::IPv4 as i32),
            scheme: Some("https".to_string()),
            port: 8443,
            path: Some("/health".to_string()),
            statuses: vec![200, 204],
        }),
        tcp: None,
    }
}

pub fn check_info() -> v1::CheckInfo {
    v1::CheckInfo {
        r#type: Some(v1::check_info::Type::Command as i32),
        command: Some(v1::check_info::Command {
            command: shell_command("test -f /tmp/ready"),
        }),
        http: None,
        tcp: None,
        delay_seconds: Some(1.0),
        interval_seconds: Some(3.0),
        timeout_seconds: Some(2.0),
    }
}

pub fn kill_policy() -> v1::KillPolicy {
    v1::KillPolicy {
        grace_period: Some(duration_secs(3)),
    }
}

pub fn discovery() -> v1::DiscoveryInfo {
    v1::DiscoveryInfo {
        visibility: v1::discovery_info::Visibility::Cluster as i32,
        name: Some("web".to_string()),
        environment: Some("prod".to_string()),
        location: Some("eu-west-1b".to_string()),
        version: Some("2.3.1".to_string()),
        ports: Some(v1::Ports {
            ports: vec![
                v1::Port {
                    number: 31000,
                    name: Some("http".to_string()),
                    protocol: Some("tcp".to_string()),
                    visibility: Some(v1::discovery_info::Visibility::External as i32),
                    labels: Some(labels(&[("vip", Some("10.1.1.1:80"))])),
                },
                v1::Port {
                    number: 31001,
                    ..Default::default()
                },
            ],
        }),
        labels: Some(labels(&[("dns", Some("web.marathon"))])),
    }
}

// ---------------------------------------------------------------------------------------------
// Executors, tasks, statuses
// ---------------------------------------------------------------------------------------------

pub fn custom_executor() -> v1::ExecutorInfo {
    v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Custom as i32),
        executor_id: executor_id("exec-web-1"),
        framework_id: Some(framework_id()),
        command: Some(command_info()),
        container: Some(mesos_container()),
        resources: vec![
            allocated(scalar("cpus", 0.1), "web"),
            allocated(scalar("mem", 32.0), "web"),
        ],
        name: Some("Web executor".to_string()),
        source: Some("web".to_string()),
        data: Some(b"\x00executor-data\xff".to_vec()),
        discovery: Some(discovery()),
        shutdown_grace_period: Some(duration_secs(5)),
        labels: Some(labels(&[("kind", Some("custom"))])),
    }
}

pub fn default_executor() -> v1::ExecutorInfo {
    v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: executor_id("default-executor-1"),
        framework_id: Some(framework_id()),
        resources: vec![
            allocated(scalar("cpus", 0.1), "web"),
            allocated(scalar("mem", 32.0), "web"),
        ],
        container: Some(v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            network_infos: vec![v1::NetworkInfo {
                name: Some("cni-net".to_string()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A command task with everything set: resources, command (uris, environment, user), Docker
/// container with port mappings, health check, check, kill policy, labels, discovery, data
/// bytes, max completion time and (finite) limits.
pub fn task_info(name: &str) -> v1::TaskInfo {
    let mut limits = BTreeMap::new();
    limits.insert("cpus".to_string(), v1::value::Scalar { value: 2.0 });
    limits.insert("mem".to_string(), v1::value::Scalar { value: 512.0 });
    v1::TaskInfo {
        name: name.to_string(),
        task_id: task_id(&format!("{name}.0b5e4a3c")),
        agent_id: agent_id(),
        resources: task_resources(),
        executor: None,
        command: Some(command_info()),
        container: Some(docker_container()),
        health_check: Some(health_check()),
        check: Some(check_info()),
        kill_policy: Some(kill_policy()),
        data: Some(vec![0, 1, 2, 0xfe, 0xff, b'{', b'"']),
        labels: Some(labels(&[("app", Some(name)), ("canary", None)])),
        discovery: Some(discovery()),
        max_completion_time: Some(duration_secs(86_400)),
        limits,
    }
}

/// A task of a task group: a Mesos container with an image, no executor.
pub fn group_task(name: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: name.to_string(),
        task_id: task_id(name),
        agent_id: agent_id(),
        resources: task_resources(),
        command: Some(shell_command("exec ./serve")),
        container: Some(mesos_container()),
        health_check: Some(v1::HealthCheck {
            r#type: Some(v1::health_check::Type::Tcp as i32),
            tcp: Some(v1::health_check::TcpCheckInfo {
                protocol: None,
                port: 31000,
            }),
            ..Default::default()
        }),
        kill_policy: Some(kill_policy()),
        labels: Some(labels(&[("group", Some("pod-1"))])),
        ..Default::default()
    }
}

pub fn task_group() -> v1::TaskGroupInfo {
    v1::TaskGroupInfo {
        tasks: vec![group_task("pod-1.web"), group_task("pod-1.sidecar")],
    }
}

/// A TaskStatus with every field set.
pub fn task_status() -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: task_id("web.0b5e4a3c"),
        state: v1::TaskState::TaskRunning as i32,
        message: Some("Task is healthy — \"quoted\" ünïcödé".to_string()),
        source: Some(v1::task_status::Source::Executor as i32),
        reason: Some(v1::task_status::Reason::TaskHealthCheckStatusUpdated as i32),
        data: Some(b"\x00status\xff".to_vec()),
        agent_id: Some(agent_id()),
        executor_id: Some(executor_id("exec-web-1")),
        timestamp: Some(1_700_000_123.456_789),
        uuid: Some(uuid_bytes()),
        healthy: Some(true),
        check_status: Some(v1::CheckStatusInfo {
            r#type: Some(v1::check_info::Type::Command as i32),
            command: Some(v1::check_status_info::Command {
                exit_code: Some(-1),
            }),
            http: None,
            tcp: None,
        }),
        labels: Some(labels(&[("phase", Some("steady"))])),
        container_status: Some(v1::ContainerStatus {
            container_id: Some(container_id()),
            network_infos: vec![v1::NetworkInfo {
                ip_addresses: vec![
                    v1::network_info::IpAddress {
                        protocol: Some(v1::network_info::Protocol::IPv4 as i32),
                        ip_address: Some("10.0.0.5".to_string()),
                    },
                    v1::network_info::IpAddress {
                        protocol: Some(v1::network_info::Protocol::IPv6 as i32),
                        ip_address: Some("fd00::5".to_string()),
                    },
                ],
                name: Some("cni-net".to_string()),
                ..Default::default()
            }],
            cgroup_info: Some(v1::CgroupInfo {
                net_cls: Some(v1::cgroup_info::NetCls {
                    classid: Some(0x0010_0001),
                }),
            }),
            executor_pid: Some(12_345),
        }),
        unreachable_time: Some(v1::TimeInfo {
            nanoseconds: 1_700_000_000_123_456_789,
        }),
        limitation: Some(v1::TaskResourceLimitation {
            resources: vec![scalar("mem", 512.0)],
        }),
    }
}

pub fn operation_status() -> v1::OperationStatus {
    v1::OperationStatus {
        operation_id: Some(operation_id("reserve-1")),
        state: v1::OperationState::OperationFinished as i32,
        message: Some("Reserved".to_string()),
        converted_resources: vec![reserved(scalar("cpus", 1.0), "web")],
        uuid: Some(v1::Uuid {
            value: uuid_bytes(),
        }),
        agent_id: Some(agent_id()),
        resource_provider_id: Some(provider_id()),
    }
}

pub fn offer(n: u32) -> v1::Offer {
    v1::Offer {
        id: offer_id(n),
        framework_id: framework_id(),
        agent_id: agent_id(),
        hostname: "agent1.example.com".to_string(),
        url: Some(agent_url()),
        domain: Some(domain()),
        resources: offer_resources("web"),
        attributes: attributes(),
        executor_ids: vec![executor_id("exec-web-1")],
        unavailability: Some(unavailability()),
        allocation_info: Some(v1::resource::AllocationInfo {
            role: Some("web".to_string()),
        }),
    }
}

pub fn inverse_offer(n: u32) -> v1::InverseOffer {
    v1::InverseOffer {
        id: offer_id(n),
        url: Some(agent_url()),
        framework_id: framework_id(),
        agent_id: Some(agent_id()),
        unavailability: unavailability(),
        resources: vec![scalar("cpus", 8.0)],
    }
}

pub fn filters(refuse_seconds: f64) -> v1::Filters {
    v1::Filters {
        refuse_seconds: Some(refuse_seconds),
    }
}

pub fn offer_constraints() -> scheduler::OfferConstraints {
    use scheduler::attribute_constraint::{predicate, selector, Predicate, Selector};
    use scheduler::offer_constraints::{role_constraints::Group, RoleConstraints};
    let constraint =
        |sel: selector::Selector, pred: predicate::Predicate| scheduler::AttributeConstraint {
            selector: Selector {
                selector: Some(sel),
            },
            predicate: Predicate {
                predicate: Some(pred),
            },
        };
    let mut role_constraints = BTreeMap::new();
    role_constraints.insert(
        "web".to_string(),
        RoleConstraints {
            groups: vec![
                Group {
                    attribute_constraints: vec![
                        constraint(
                            selector::Selector::AttributeName("rack".to_string()),
                            predicate::Predicate::TextMatches(predicate::TextMatches {
                                regex: "r[0-9]+".to_string(),
                            }),
                        ),
                        constraint(
                            selector::Selector::PseudoattributeType(
                                selector::PseudoattributeType::Hostname as i32,
                            ),
                            predicate::Predicate::TextNotEquals(predicate::TextNotEquals {
                                value: "bad-host".to_string(),
                            }),
                        ),
                    ],
                },
                Group {
                    attribute_constraints: vec![constraint(
                        selector::Selector::AttributeName("ssd".to_string()),
                        predicate::Predicate::Exists(predicate::Exists {}),
                    )],
                },
            ],
        },
    );
    scheduler::OfferConstraints { role_constraints }
}

// ---------------------------------------------------------------------------------------------
// Scheduler calls and events
// ---------------------------------------------------------------------------------------------

fn call(t: scheduler::call::Type) -> scheduler::Call {
    scheduler::Call {
        framework_id: Some(framework_id()),
        r#type: Some(t as i32),
        ..Default::default()
    }
}

/// One realistic call of every scheduler Call type (ACCEPT three times: LAUNCH, LAUNCH_GROUP
/// and RESERVE), labelled by the type name.
pub fn scheduler_calls() -> Vec<(&'static str, scheduler::Call)> {
    use scheduler::call::{self as c, Type as T};
    use v1::offer::operation::{self as op, Type as Op};

    let mut subscribe = call(T::Subscribe);
    subscribe.subscribe = Some(c::Subscribe {
        framework_info: framework_info(),
        suppressed_roles: vec!["batch/etl".to_string()],
        offer_constraints: Some(offer_constraints()),
    });

    let teardown = call(T::Teardown);

    let mut launch = call(T::Accept);
    launch.accept = Some(c::Accept {
        offer_ids: vec![offer_id(7), offer_id(8)],
        operations: vec![v1::offer::Operation {
            r#type: Some(Op::Launch as i32),
            launch: Some(op::Launch {
                task_infos: vec![task_info("web"), {
                    let mut t = task_info("worker");
                    t.command = None;
                    t.container = None;
                    t.executor = Some(custom_executor());
                    t
                }],
            }),
            ..Default::default()
        }],
        filters: Some(filters(10.0)),
    });

    let mut launch_group = call(T::Accept);
    launch_group.accept = Some(c::Accept {
        offer_ids: vec![offer_id(9)],
        operations: vec![v1::offer::Operation {
            r#type: Some(Op::LaunchGroup as i32),
            launch_group: Some(op::LaunchGroup {
                executor: default_executor(),
                task_group: task_group(),
            }),
            ..Default::default()
        }],
        filters: None,
    });

    let mut reserve = call(T::Accept);
    reserve.accept = Some(c::Accept {
        offer_ids: vec![offer_id(10)],
        operations: vec![
            v1::offer::Operation {
                r#type: Some(Op::Reserve as i32),
                id: Some(operation_id("reserve-1")),
                reserve: Some(op::Reserve {
                    source: vec![allocated(scalar("cpus", 1.0), "web")],
                    resources: vec![allocated(reserved(scalar("cpus", 1.0), "web"), "web")],
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::Create as i32),
                id: Some(operation_id("create-1")),
                create: Some(op::Create {
                    volumes: vec![persistent_volume("web")],
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::GrowVolume as i32),
                grow_volume: Some(op::GrowVolume {
                    volume: persistent_volume("web"),
                    addition: allocated(reserved(scalar("disk", 512.0), "web"), "web"),
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::ShrinkVolume as i32),
                shrink_volume: Some(op::ShrinkVolume {
                    volume: persistent_volume("web"),
                    subtract: v1::value::Scalar { value: 256.0 },
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::CreateDisk as i32),
                create_disk: Some(op::CreateDisk {
                    source: scalar("disk", 100.0),
                    target_type: v1::resource::disk_info::source::Type::Block as i32,
                    target_profile: Some("fast".to_string()),
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::Unreserve as i32),
                unreserve: Some(op::Unreserve {
                    resources: vec![reserved(scalar("mem", 64.0), "web")],
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::Destroy as i32),
                destroy: Some(op::Destroy {
                    volumes: vec![persistent_volume("web")],
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::DestroyDisk as i32),
                destroy_disk: Some(op::DestroyDisk {
                    source: scalar("disk", 100.0),
                }),
                ..Default::default()
            },
        ],
        filters: Some(filters(0.0)),
    });

    let mut decline = call(T::Decline);
    decline.decline = Some(c::Decline {
        offer_ids: vec![offer_id(11), offer_id(12)],
        filters: Some(filters(31_536_000.0)),
    });

    let mut accept_inverse = call(T::AcceptInverseOffers);
    accept_inverse.accept_inverse_offers = Some(c::AcceptInverseOffers {
        inverse_offer_ids: vec![offer_id(13)],
        filters: Some(filters(1.5)),
    });

    let mut decline_inverse = call(T::DeclineInverseOffers);
    decline_inverse.decline_inverse_offers = Some(c::DeclineInverseOffers {
        inverse_offer_ids: vec![offer_id(14)],
        filters: Some(filters(2.0)),
    });

    let mut revive = call(T::Revive);
    revive.revive = Some(c::Revive {
        roles: vec!["web".to_string(), "batch/etl".to_string()],
    });

    let mut suppress = call(T::Suppress);
    suppress.suppress = Some(c::Suppress {
        roles: vec!["batch/etl".to_string()],
    });

    let mut kill = call(T::Kill);
    kill.kill = Some(c::Kill {
        task_id: task_id("web.0b5e4a3c"),
        agent_id: Some(agent_id()),
        kill_policy: Some(kill_policy()),
    });

    let mut shutdown = call(T::Shutdown);
    shutdown.shutdown = Some(c::Shutdown {
        executor_id: executor_id("exec-web-1"),
        agent_id: agent_id(),
    });

    let mut acknowledge = call(T::Acknowledge);
    acknowledge.acknowledge = Some(c::Acknowledge {
        agent_id: agent_id(),
        task_id: task_id("web.0b5e4a3c"),
        uuid: uuid_bytes(),
    });

    let mut acknowledge_op = call(T::AcknowledgeOperationStatus);
    acknowledge_op.acknowledge_operation_status = Some(c::AcknowledgeOperationStatus {
        agent_id: Some(agent_id()),
        resource_provider_id: Some(provider_id()),
        uuid: uuid_bytes(),
        operation_id: operation_id("reserve-1"),
    });

    let mut reconcile = call(T::Reconcile);
    reconcile.reconcile = Some(c::Reconcile {
        tasks: vec![
            c::reconcile::Task {
                task_id: task_id("web.0b5e4a3c"),
                agent_id: Some(agent_id()),
            },
            c::reconcile::Task {
                task_id: task_id("lost-task"),
                agent_id: None,
            },
        ],
    });

    let mut reconcile_ops = call(T::ReconcileOperations);
    reconcile_ops.reconcile_operations = Some(c::ReconcileOperations {
        operations: vec![c::reconcile_operations::Operation {
            operation_id: operation_id("reserve-1"),
            agent_id: Some(agent_id()),
            resource_provider_id: Some(provider_id()),
        }],
    });

    let mut message = call(T::Message);
    message.message = Some(c::Message {
        agent_id: agent_id(),
        executor_id: executor_id("exec-web-1"),
        data: b"\x00\x01hello executor\xfe\xff".to_vec(),
    });

    let mut request = call(T::Request);
    request.request = Some(c::Request {
        requests: vec![v1::Request {
            agent_id: Some(agent_id()),
            resources: vec![scalar("cpus", 4.0)],
        }],
    });

    let mut update_framework = call(T::UpdateFramework);
    update_framework.update_framework = Some(c::UpdateFramework {
        framework_info: framework_info(),
        suppressed_roles: vec!["web".to_string()],
        offer_constraints: Some(offer_constraints()),
    });

    vec![
        ("SUBSCRIBE", subscribe),
        ("TEARDOWN", teardown),
        ("ACCEPT", launch),
        ("ACCEPT", launch_group),
        ("ACCEPT", reserve),
        ("DECLINE", decline),
        ("ACCEPT_INVERSE_OFFERS", accept_inverse),
        ("DECLINE_INVERSE_OFFERS", decline_inverse),
        ("REVIVE", revive),
        ("SUPPRESS", suppress),
        ("KILL", kill),
        ("SHUTDOWN", shutdown),
        ("ACKNOWLEDGE", acknowledge),
        ("ACKNOWLEDGE_OPERATION_STATUS", acknowledge_op),
        ("RECONCILE", reconcile),
        ("RECONCILE_OPERATIONS", reconcile_ops),
        ("MESSAGE", message),
        ("REQUEST", request),
        ("UPDATE_FRAMEWORK", update_framework),
    ]
}

fn event(t: scheduler::event::Type) -> scheduler::Event {
    scheduler::Event {
        r#type: Some(t as i32),
        ..Default::default()
    }
}

/// One realistic event of every scheduler Event type.
pub fn scheduler_events() -> Vec<(&'static str, scheduler::Event)> {
    use scheduler::event::{self as e, Type as T};

    let mut subscribed = event(T::Subscribed);
    subscribed.subscribed = Some(e::Subscribed {
        framework_id: framework_id(),
        heartbeat_interval_seconds: Some(15.0),
        master_info: Some(master_info()),
    });

    let mut offers = event(T::Offers);
    offers.offers = Some(e::Offers {
        offers: vec![offer(7), offer(8)],
    });

    let mut inverse_offers = event(T::InverseOffers);
    inverse_offers.inverse_offers = Some(e::InverseOffers {
        inverse_offers: vec![inverse_offer(13)],
    });

    let mut rescind = event(T::Rescind);
    rescind.rescind = Some(e::Rescind {
        offer_id: offer_id(7),
    });

    let mut rescind_inverse = event(T::RescindInverseOffer);
    rescind_inverse.rescind_inverse_offer = Some(e::RescindInverseOffer {
        inverse_offer_id: offer_id(13),
    });

    let mut update = event(T::Update);
    update.update = Some(e::Update {
        status: task_status(),
    });

    let mut update_op = event(T::UpdateOperationStatus);
    update_op.update_operation_status = Some(e::UpdateOperationStatus {
        status: operation_status(),
    });

    let mut message = event(T::Message);
    message.message = Some(e::Message {
        agent_id: agent_id(),
        executor_id: executor_id("exec-web-1"),
        data: b"\x00\x01hello scheduler\xfe\xff".to_vec(),
    });

    let mut failure = event(T::Failure);
    failure.failure = Some(e::Failure {
        agent_id: Some(agent_id()),
        executor_id: Some(executor_id("exec-web-1")),
        status: Some(137),
    });

    let mut error = event(T::Error);
    error.error = Some(e::Error {
        message: "Framework has been removed".to_string(),
    });

    let heartbeat = event(T::Heartbeat);

    vec![
        ("SUBSCRIBED", subscribed),
        ("OFFERS", offers),
        ("INVERSE_OFFERS", inverse_offers),
        ("RESCIND", rescind),
        ("RESCIND_INVERSE_OFFER", rescind_inverse),
        ("UPDATE", update),
        ("UPDATE_OPERATION_STATUS", update_op),
        ("MESSAGE", message),
        ("FAILURE", failure),
        ("ERROR", error),
        ("HEARTBEAT", heartbeat),
    ]
}

// ---------------------------------------------------------------------------------------------
// Executor calls and events
// ---------------------------------------------------------------------------------------------

fn executor_call(t: executor::call::Type) -> executor::Call {
    executor::Call {
        executor_id: executor_id("exec-web-1"),
        framework_id: framework_id(),
        r#type: Some(t as i32),
        ..Default::default()
    }
}

/// A status as an executor sends it (no agent_id; the agent fills it in).
pub fn executor_status(state: v1::TaskState) -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: task_id("web.0b5e4a3c"),
        state: state as i32,
        message: Some("started".to_string()),
        source: Some(v1::task_status::Source::Executor as i32),
        executor_id: Some(executor_id("exec-web-1")),
        timestamp: Some(1_700_000_000.25),
        uuid: Some(uuid_bytes()),
        data: Some(vec![0xde, 0xad, 0xbe, 0xef]),
        ..Default::default()
    }
}

/// One realistic call of every executor Call type.
pub fn executor_calls() -> Vec<(&'static str, executor::Call)> {
    use executor::call::{self as c, Type as T};

    let mut subscribe = executor_call(T::Subscribe);
    subscribe.subscribe = Some(c::Subscribe {
        unacknowledged_tasks: vec![task_info("web")],
        unacknowledged_updates: vec![
            c::Update {
                status: executor_status(v1::TaskState::TaskStarting),
            },
            c::Update {
                status: task_status(),
            },
        ],
    });

    let mut update = executor_call(T::Update);
    update.update = Some(c::Update {
        status: executor_status(v1::TaskState::TaskRunning),
    });

    let mut message = executor_call(T::Message);
    message.message = Some(c::Message {
        data: b"\x00progress=42%\xff".to_vec(),
    });

    let heartbeat = executor_call(T::Heartbeat);

    vec![
        ("SUBSCRIBE", subscribe),
        ("UPDATE", update),
        ("MESSAGE", message),
        ("HEARTBEAT", heartbeat),
    ]
}

fn executor_event(t: executor::event::Type) -> executor::Event {
    executor::Event {
        r#type: Some(t as i32),
        ..Default::default()
    }
}

/// One realistic event of every executor Event type.
pub fn executor_events() -> Vec<(&'static str, executor::Event)> {
    use executor::event::{self as e, Type as T};

    let mut subscribed = executor_event(T::Subscribed);
    subscribed.subscribed = Some(e::Subscribed {
        executor_info: custom_executor(),
        framework_info: framework_info(),
        agent_info: agent_info(),
        container_id: Some(container_id()),
    });

    let mut launch = executor_event(T::Launch);
    launch.launch = Some(e::Launch {
        task: task_info("web"),
    });

    let mut launch_group = executor_event(T::LaunchGroup);
    launch_group.launch_group = Some(e::LaunchGroup {
        task_group: task_group(),
    });

    let mut kill = executor_event(T::Kill);
    kill.kill = Some(e::Kill {
        task_id: task_id("web.0b5e4a3c"),
        kill_policy: Some(kill_policy()),
    });

    let mut acknowledged = executor_event(T::Acknowledged);
    acknowledged.acknowledged = Some(e::Acknowledged {
        task_id: task_id("web.0b5e4a3c"),
        uuid: uuid_bytes(),
    });

    let mut message = executor_event(T::Message);
    message.message = Some(e::Message {
        data: b"\x00\x01from scheduler\xff".to_vec(),
    });

    let mut error = executor_event(T::Error);
    error.error = Some(e::Error {
        message: "Executor is not subscribed".to_string(),
    });

    let shutdown = executor_event(T::Shutdown);
    let heartbeat = executor_event(T::Heartbeat);

    vec![
        ("SUBSCRIBED", subscribed),
        ("LAUNCH", launch),
        ("LAUNCH_GROUP", launch_group),
        ("KILL", kill),
        ("ACKNOWLEDGED", acknowledged),
        ("MESSAGE", message),
        ("ERROR", error),
        ("SHUTDOWN", shutdown),
        ("HEARTBEAT", heartbeat),
    ]
}

/// A Task as an agent reports it when re-registering.
pub fn task(name: &str) -> v1::Task {
    let info = task_info(name);
    let mut running = task_status();
    running.task_id = info.task_id.clone();
    let mut staging = running.clone();
    staging.state = v1::TaskState::TaskStaging as i32;
    staging.uuid = None;
    v1::Task {
        name: info.name,
        task_id: info.task_id,
        framework_id: framework_id(),
        executor_id: None,
        agent_id: agent_id(),
        state: v1::TaskState::TaskRunning as i32,
        resources: info.resources,
        statuses: vec![staging, running],
        status_update_state: Some(v1::TaskState::TaskRunning as i32),
        status_update_uuid: Some(uuid_bytes()),
        labels: info.labels,
        discovery: info.discovery,
        container: info.container,
        health_check: info.health_check,
        kill_policy: info.kill_policy,
        user: Some("nobody".to_string()),
        limits: info.limits,
    }
}
