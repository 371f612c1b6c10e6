//! Commands, containers, secrets, checks, kill policies, discovery.

use super::*;

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
