#![allow(clippy::unwrap_used)]

use super::*;
use corral_api::v1::container_info::docker_info::PortMapping;
use corral_api::v1::environment::Variable;
use corral_api::v1::volume::source::{DockerVolume, HostPath, SandboxPath};
use corral_api::v1::volume::Source;
use corral_api::v1::{
    value, CommandInfo, Environment, Label, Labels, NetworkInfo, Parameter, Resource, TaskId,
};

const SANDBOX: &str = "/var/lib/corral/sb";

fn at() -> Placement<'static> {
    Placement {
        name: "mesos-c1",
        sandbox: Path::new(SANDBOX),
        mapped_directory: DEFAULT_MAPPED_DIRECTORY,
    }
}

fn docker(image: &str) -> DockerInfo {
    DockerInfo {
        image: image.into(),
        ..DockerInfo::default()
    }
}

fn task(command: Option<CommandInfo>, docker: DockerInfo) -> TaskInfo {
    TaskInfo {
        task_id: TaskId { value: "t".into() },
        command,
        container: Some(ContainerInfo {
            r#type: ContainerType::Docker as i32,
            docker: Some(docker),
            ..ContainerInfo::default()
        }),
        ..TaskInfo::default()
    }
}

fn shell(value: &str) -> Option<CommandInfo> {
    Some(CommandInfo {
        value: Some(value.into()),
        ..CommandInfo::default()
    })
}

fn scalar(name: &str, value: f64) -> Resource {
    Resource {
        name: name.into(),
        r#type: value::Type::Scalar as i32,
        scalar: Some(value::Scalar { value }),
        ..Resource::default()
    }
}

fn host(spec: &ContainerSpec) -> &HostConfig {
    spec.body.host_config.as_ref().unwrap()
}

#[test]
fn shell_commands_override_the_entrypoint() {
    let spec = build(
        &task(shell("echo hi; cat /etc/hostname"), docker("busybox")),
        &at(),
    )
    .unwrap();
    assert_eq!(spec.image, "busybox");
    assert!(!spec.force_pull);
    assert_eq!(spec.body.image.as_deref(), Some("busybox"));
    assert_eq!(spec.body.entrypoint, Some(vec!["/bin/sh".to_string()]));
    assert_eq!(
        spec.body.cmd,
        Some(vec![
            "-c".to_string(),
            "echo hi; cat /etc/hostname".to_string()
        ])
    );
    assert_eq!(spec.body.tty, Some(false));
}

#[test]
fn exec_commands_keep_the_entrypoint() {
    let command = CommandInfo {
        shell: Some(false),
        value: Some("/bin/echo".into()),
        arguments: vec!["a".into(), "b c".into()],
        ..CommandInfo::default()
    };
    let spec = build(&task(Some(command), docker("img")), &at()).unwrap();
    assert_eq!(spec.body.entrypoint, None);
    assert_eq!(
        spec.body.cmd,
        Some(vec!["/bin/echo".into(), "a".into(), "b c".into()])
    );
    // Arguments alone (Marathon's `args`) are the image entrypoint's arguments.
    let args = CommandInfo {
        shell: Some(false),
        arguments: vec!["--port".into(), "80".into()],
        ..CommandInfo::default()
    };
    let spec = build(&task(Some(args), docker("img")), &at()).unwrap();
    assert_eq!(spec.body.cmd, Some(vec!["--port".into(), "80".into()]));
    // Nothing at all: the image's defaults.
    let spec = build(&task(None, docker("img")), &at()).unwrap();
    assert_eq!((spec.body.entrypoint, spec.body.cmd), (None, None));
    let empty = CommandInfo {
        shell: Some(false),
        ..CommandInfo::default()
    };
    let spec = build(&task(Some(empty), docker("img")), &at()).unwrap();
    assert_eq!(spec.body.cmd, None);
}

#[test]
fn environment_labels_and_sandbox() {
    let mut info = task(
        Some(CommandInfo {
            value: Some("env".into()),
            environment: Some(Environment {
                variables: vec![
                    Variable {
                        name: "GREETING".into(),
                        value: Some("hello world".into()),
                        ..Variable::default()
                    },
                    Variable {
                        name: "BAD=NAME".into(),
                        value: Some("x".into()),
                        ..Variable::default()
                    },
                ],
            }),
            ..CommandInfo::default()
        }),
        docker("img"),
    );
    info.labels = Some(Labels {
        labels: vec![Label {
            key: "commit".into(),
            value: Some("abc123".into()),
        }],
    });
    let spec = build(&info, &at()).unwrap();
    assert_eq!(
        spec.body.env.unwrap(),
        vec![
            "GREETING=hello world".to_string(),
            "MESOS_SANDBOX=/mnt/mesos/sandbox".to_string(),
            "MESOS_CONTAINER_NAME=mesos-c1".to_string(),
        ]
    );
    assert_eq!(spec.body.labels.unwrap()["commit"], "abc123");
    let binds = spec.body.host_config.unwrap().binds.unwrap();
    assert_eq!(binds, vec![format!("{SANDBOX}:/mnt/mesos/sandbox:rw")]);
}

#[test]
fn networks() {
    let with = |network: Network| {
        let mut d = docker("img");
        d.network = Some(network as i32);
        build(&task(shell("true"), d), &at())
    };
    let default = build(&task(shell("true"), docker("img")), &at()).unwrap();
    assert_eq!(host(&default).network_mode.as_deref(), Some("host"));
    assert_eq!(
        host(&with(Network::Host).unwrap()).network_mode.as_deref(),
        Some("host")
    );
    assert_eq!(
        host(&with(Network::Bridge).unwrap())
            .network_mode
            .as_deref(),
        Some("bridge")
    );
    assert_eq!(
        host(&with(Network::None).unwrap()).network_mode.as_deref(),
        Some("none")
    );
    assert_eq!(
        with(Network::User).unwrap_err(),
        RequestError::NoUserNetwork
    );
    let mut d = docker("img");
    d.network = Some(Network::User as i32);
    let mut info = task(shell("true"), d);
    if let Some(c) = info.container.as_mut() {
        c.network_infos = vec![NetworkInfo {
            name: Some("backend".into()),
            ..NetworkInfo::default()
        }];
    }
    let spec = build(&info, &at()).unwrap();
    assert_eq!(host(&spec).network_mode.as_deref(), Some("backend"));
}

#[test]
fn port_mappings_become_port_bindings() {
    let mut d = docker("img");
    d.network = Some(Network::Bridge as i32);
    d.port_mappings = vec![
        PortMapping {
            host_port: 31000,
            container_port: 80,
            protocol: None,
        },
        PortMapping {
            host_port: 31001,
            container_port: 53,
            protocol: Some("UDP".into()),
        },
    ];
    let spec = build(&task(shell("true"), d.clone()), &at()).unwrap();
    let bindings = host(&spec).port_bindings.clone().unwrap();
    let tcp = bindings["80/tcp"].as_ref().unwrap();
    assert_eq!(tcp[0].host_port.as_deref(), Some("31000"));
    assert_eq!(tcp[0].host_ip, None);
    assert_eq!(
        bindings["53/udp"].as_ref().unwrap()[0].host_port.as_deref(),
        Some("31001")
    );
    let mut exposed = spec.body.exposed_ports.unwrap();
    exposed.sort();
    assert_eq!(exposed, vec!["53/udp".to_string(), "80/tcp".to_string()]);
    // Not on the host network, and only known protocols.
    let mut host_net = d.clone();
    host_net.network = Some(Network::Host as i32);
    assert_eq!(
        build(&task(shell("true"), host_net), &at()).unwrap_err(),
        RequestError::PortMappingsNeedBridge("HOST")
    );
    d.port_mappings[0].protocol = Some("icmp".into());
    assert_eq!(
        build(&task(shell("true"), d), &at()).unwrap_err(),
        RequestError::Protocol("icmp".into())
    );
}

fn volume(container_path: &str, host_path: Option<&str>, mode: Mode) -> Volume {
    Volume {
        mode: mode as i32,
        container_path: container_path.into(),
        host_path: host_path.map(Into::into),
        ..Volume::default()
    }
}

fn with_volumes(volumes: Vec<Volume>) -> Result<ContainerSpec, RequestError> {
    let mut info = task(shell("true"), docker("img"));
    if let Some(c) = info.container.as_mut() {
        c.volumes = volumes;
    }
    build(&info, &at())
}

#[test]
fn volumes_become_binds() {
    let sourced = |source: Source| Volume {
        source: Some(source),
        ..volume("/data", None, Mode::Rw)
    };
    let spec = with_volumes(vec![
        volume("/etc/app", Some("/srv/config"), Mode::Ro),
        volume("cache", Some("scratch"), Mode::Rw),
        sourced(Source {
            r#type: Some(SourceType::HostPath as i32),
            host_path: Some(HostPath {
                path: "/srv/data".into(),
                mount_propagation: None,
            }),
            ..Source::default()
        }),
        sourced(Source {
            r#type: Some(SourceType::SandboxPath as i32),
            sandbox_path: Some(SandboxPath {
                r#type: Some(SandboxType::Self_ as i32),
                path: "out".into(),
            }),
            ..Source::default()
        }),
        sourced(Source {
            r#type: Some(SourceType::DockerVolume as i32),
            docker_volume: Some(DockerVolume {
                driver: None,
                name: "named".into(),
                driver_options: None,
            }),
            ..Source::default()
        }),
    ])
    .unwrap();
    let binds = host(&spec).binds.clone().unwrap();
    assert_eq!(
        binds[1..],
        [
            "/srv/config:/etc/app:ro".to_string(),
            format!("{SANDBOX}/scratch:/mnt/mesos/sandbox/cache:rw"),
            "/srv/data:/data:rw".to_string(),
            format!("{SANDBOX}/out:/data:rw"),
            "named:/data:rw".to_string(),
        ]
    );
}

#[test]
fn bad_volumes_are_refused() {
    for bad in [
        volume("", Some("/x"), Mode::Rw),
        volume("/x", None, Mode::Rw),
        volume("/x", Some("../../etc"), Mode::Rw),
        volume("/x:y", Some("/a"), Mode::Rw),
    ] {
        let error = with_volumes(vec![bad.clone()]).unwrap_err();
        assert!(
            matches!(error, RequestError::Volume { .. }),
            "{bad:?}: {error}"
        );
    }
}

#[test]
fn resources_become_cgroup_limits() {
    let mut info = task(shell("true"), docker("img"));
    info.resources = vec![
        scalar("cpus", 0.5),
        scalar("mem", 64.0),
        scalar("disk", 10.0),
    ];
    let spec = build(&info, &at()).unwrap();
    let h = host(&spec);
    assert_eq!(h.cpu_shares, Some(512));
    assert_eq!((h.cpu_period, h.cpu_quota), (Some(100_000), Some(50_000)));
    assert_eq!(h.memory, Some(64 << 20));
    // Floors.
    info.resources = vec![scalar("cpus", 0.001), scalar("mem", 1.0)];
    let spec = build(&info, &at()).unwrap();
    let h = host(&spec);
    assert_eq!(h.cpu_shares, Some(MIN_CPU_SHARES));
    assert_eq!(h.cpu_quota, Some(MIN_CPU_CFS_QUOTA_US));
    assert_eq!(h.memory, Some(MIN_MEMORY_BYTES));
    // Limits replace requests for the hard limits; infinite lifts them.
    info.resources = vec![scalar("cpus", 0.5), scalar("mem", 64.0)];
    info.limits
        .insert("mem".into(), value::Scalar { value: 128.0 });
    info.limits.insert(
        "cpus".into(),
        value::Scalar {
            value: f64::INFINITY,
        },
    );
    let spec = build(&info, &at()).unwrap();
    let h = host(&spec);
    assert_eq!(h.cpu_shares, Some(512));
    assert_eq!(h.cpu_quota, None);
    assert_eq!(h.memory, Some(128 << 20));
    // No resources: no limits.
    let spec = build(&task(shell("true"), docker("img")), &at()).unwrap();
    let h = host(&spec);
    assert_eq!((h.cpu_shares, h.cpu_quota, h.memory), (None, None, None));
}

#[test]
fn parameters_and_flags_apply() {
    let mut d = docker("img");
    d.privileged = Some(true);
    d.force_pull_image = Some(true);
    d.parameters = vec![
        Parameter {
            key: "env".into(),
            value: "EXTRA=1".into(),
        },
        Parameter {
            key: "memory".into(),
            value: "256m".into(),
        },
        Parameter {
            key: "label".into(),
            value: "a=b".into(),
        },
    ];
    let mut info = task(shell("true"), d.clone());
    info.resources = vec![scalar("mem", 64.0)];
    let spec = build(&info, &at()).unwrap();
    assert!(spec.force_pull);
    assert_eq!(host(&spec).privileged, Some(true));
    // A parameter wins over the resource-derived value.
    assert_eq!(host(&spec).memory, Some(256 << 20));
    assert!(spec.body.env.unwrap().contains(&"EXTRA=1".to_string()));
    assert_eq!(spec.body.labels.unwrap()["a"], "b");
    d.parameters.push(Parameter {
        key: "device".into(),
        value: "/dev/fuse".into(),
    });
    let error = build(&task(shell("true"), d), &at()).unwrap_err();
    assert_eq!(error.to_string(), "unsupported docker parameter '--device'");
}

#[test]
fn not_docker_or_no_image_or_empty_shell_is_an_error() {
    let mut info = task(shell("true"), docker("img"));
    assert!(is_docker(&info));
    if let Some(c) = info.container.as_mut() {
        c.r#type = ContainerType::Mesos as i32;
    }
    assert!(!is_docker(&info));
    assert_eq!(build(&info, &at()).unwrap_err(), RequestError::NotDocker);
    assert_eq!(
        build(&task(shell("true"), docker("  ")), &at()).unwrap_err(),
        RequestError::NoImage
    );
    assert_eq!(
        build(&task(shell(""), docker("img")), &at()).unwrap_err(),
        RequestError::EmptyShellCommand
    );
}
