//! Executors, tasks, task groups, statuses, offers, filters, offer constraints.

use super::*;

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
