//! Health checks of a Docker task, as Mesos's Docker executor runs them: a COMMAND check runs
//! inside the container (`docker exec`, through the docker CLI of the agent's `--docker`);
//! HTTP and TCP checks probe `127.0.0.1:<port>` from the host, where the port is reachable on
//! the HOST network, or through its port mapping (the mapped host port is probed) on BRIDGE
//! and USER networks. The checks themselves (timing, state machine, kills) are the command
//! executor's ([`crate::health`]); this module only rewrites the task's `health_check`.

use corral_api::v1::environment::variable::Type as VariableType;
use corral_api::v1::health_check::Type as CheckType;
use corral_api::v1::{CommandInfo, TaskInfo};

/// How to reach the engine and the container from a check.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    /// The docker CLI.
    pub docker_cli: &'a str,
    /// The engine's socket.
    pub socket: &'a str,
    /// The container's name.
    pub container: &'a str,
}

/// `task` with its health check rewritten to reach into its container (see the module docs).
pub fn for_container(task: &TaskInfo, target: &Target<'_>) -> TaskInfo {
    let mut task = task.clone();
    let mappings: Vec<(u32, u32)> = task
        .container
        .as_ref()
        .and_then(|c| c.docker.as_ref())
        .map(|d| {
            d.port_mappings
                .iter()
                .map(|m| (m.container_port, m.host_port))
                .collect()
        })
        .unwrap_or_default();
    let mapped = |port: u32| {
        mappings
            .iter()
            .find(|(container, _)| *container == port)
            .map_or(port, |(_, host)| *host)
    };
    let Some(check) = task.health_check.as_mut() else {
        return task;
    };
    match check.r#type() {
        CheckType::Command => {
            if let Some(command) = check.command.as_mut() {
                *command = docker_exec(command, target);
            }
        }
        CheckType::Http => {
            if let Some(http) = check.http.as_mut() {
                http.port = mapped(http.port);
            }
        }
        CheckType::Tcp => {
            if let Some(tcp) = check.tcp.as_mut() {
                tcp.port = mapped(tcp.port);
            }
        }
        CheckType::Unknown => {}
    }
    task
}

/// `docker -H unix://<socket> exec [-e NAME=VALUE]… <container> <command>`: a shell command
/// runs as `/bin/sh -c <value>`, an exec command as `<value> <arguments>` (as the task's own
/// command is run in the container).
fn docker_exec(command: &CommandInfo, target: &Target<'_>) -> CommandInfo {
    let mut argv = vec![
        target.docker_cli.to_string(),
        "-H".to_string(),
        format!("unix://{}", target.socket),
        "exec".to_string(),
    ];
    let variables = command
        .environment
        .as_ref()
        .map(|e| e.variables.as_slice())
        .unwrap_or_default();
    for variable in variables {
        let plain = variable
            .r#type
            .is_none_or(|t| t == VariableType::Value as i32);
        if plain && !variable.name.is_empty() && !variable.name.contains('=') {
            argv.push("-e".to_string());
            argv.push(format!(
                "{}={}",
                variable.name,
                variable.value.as_deref().unwrap_or_default()
            ));
        }
    }
    argv.push(target.container.to_string());
    let value = command.value.clone().unwrap_or_default();
    if command.shell.unwrap_or(true) {
        argv.extend(["/bin/sh".to_string(), "-c".to_string(), value]);
    } else {
        argv.extend(
            std::iter::once(value)
                .filter(|v| !v.is_empty())
                .chain(command.arguments.iter().cloned()),
        );
    }
    CommandInfo {
        value: Some(target.docker_cli.to_string()),
        arguments: argv,
        shell: Some(false),
        user: command.user.clone(),
        ..CommandInfo::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use corral_api::v1::container_info::docker_info::PortMapping;
    use corral_api::v1::container_info::DockerInfo;
    use corral_api::v1::environment::Variable;
    use corral_api::v1::health_check::{HttpCheckInfo, TcpCheckInfo};
    use corral_api::v1::{ContainerInfo, Environment, HealthCheck};

    const TARGET: Target<'static> = Target {
        docker_cli: "/usr/bin/docker",
        socket: "/run/d.sock",
        container: "mesos-c1",
    };

    fn task(check: HealthCheck) -> TaskInfo {
        TaskInfo {
            health_check: Some(check),
            container: Some(ContainerInfo {
                docker: Some(DockerInfo {
                    image: "img".into(),
                    port_mappings: vec![PortMapping {
                        host_port: 31005,
                        container_port: 8080,
                        protocol: None,
                    }],
                    ..DockerInfo::default()
                }),
                ..ContainerInfo::default()
            }),
            ..TaskInfo::default()
        }
    }

    #[test]
    fn command_checks_run_in_the_container() {
        let check = HealthCheck {
            r#type: Some(CheckType::Command as i32),
            command: Some(CommandInfo {
                value: Some("test -f /tmp/ready".into()),
                environment: Some(Environment {
                    variables: vec![Variable {
                        name: "MODE".into(),
                        value: Some("strict".into()),
                        ..Variable::default()
                    }],
                }),
                ..CommandInfo::default()
            }),
            ..HealthCheck::default()
        };
        let rewritten = for_container(&task(check), &TARGET);
        let command = rewritten.health_check.unwrap().command.unwrap();
        assert_eq!(command.shell, Some(false));
        assert_eq!(command.value.as_deref(), Some("/usr/bin/docker"));
        assert_eq!(
            command.arguments,
            [
                "/usr/bin/docker",
                "-H",
                "unix:///run/d.sock",
                "exec",
                "-e",
                "MODE=strict",
                "mesos-c1",
                "/bin/sh",
                "-c",
                "test -f /tmp/ready"
            ]
        );
        // Exec form: value then arguments.
        let check = HealthCheck {
            r#type: Some(CheckType::Command as i32),
            command: Some(CommandInfo {
                shell: Some(false),
                value: Some("/bin/true".into()),
                arguments: vec!["x".into()],
                ..CommandInfo::default()
            }),
            ..HealthCheck::default()
        };
        let rewritten = for_container(&task(check), &TARGET);
        let arguments = rewritten.health_check.unwrap().command.unwrap().arguments;
        assert_eq!(arguments[4..], ["mesos-c1", "/bin/true", "x"]);
    }

    #[test]
    fn network_checks_use_the_mapped_host_port() {
        let http = HealthCheck {
            r#type: Some(CheckType::Http as i32),
            http: Some(HttpCheckInfo {
                port: 8080,
                ..HttpCheckInfo::default()
            }),
            ..HealthCheck::default()
        };
        let rewritten = for_container(&task(http), &TARGET);
        assert_eq!(rewritten.health_check.unwrap().http.unwrap().port, 31005);
        let tcp = HealthCheck {
            r#type: Some(CheckType::Tcp as i32),
            tcp: Some(TcpCheckInfo {
                port: 9000,
                ..TcpCheckInfo::default()
            }),
            ..HealthCheck::default()
        };
        let rewritten = for_container(&task(tcp), &TARGET);
        assert_eq!(rewritten.health_check.unwrap().tcp.unwrap().port, 9000);
        // No check: unchanged.
        let plain = TaskInfo::default();
        assert_eq!(for_container(&plain, &TARGET), plain);
    }
}
