//! The pure parts of `corral run`: the shell command line, offer fitting, the task.

use corral_api::v1::{AgentId, CommandInfo, Offer, Resource, TaskId, TaskInfo, TaskState};
use corral_client::Endpoint;

/// The shell command for `args`: one argument is taken as a shell command line as it is
/// (`corral run -- 'echo a | wc -c'`); several are quoted one by one and joined
/// (`corral run -- printf '%s\n' 'a b'`).
pub fn shell_command(args: &[String]) -> String {
    match args {
        [single] => single.clone(),
        _ => args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
    }
}

/// Quotes `arg` for `/bin/sh` when it needs it.
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,+@%^".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// What the task needs.
#[derive(Clone, Copy, Debug)]
pub struct Want {
    /// CPUs.
    pub cpus: f64,
    /// Memory, MB.
    pub mem: f64,
}

/// Total scalar `name` in `offer`.
pub fn scalar(offer: &Offer, name: &str) -> f64 {
    offer
        .resources
        .iter()
        .filter(|r| r.name == name)
        .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
        .sum()
}

/// Takes `amount` of scalar `name` from `resources`, possibly from several of them (e.g. a
/// reserved and an unreserved part), keeping each part's role and reservation.
fn take(resources: &[Resource], name: &str, amount: f64) -> Option<Vec<Resource>> {
    let mut left = round3(amount);
    let mut taken = Vec::new();
    for resource in resources.iter().filter(|r| r.name == name) {
        if left <= 0.0 {
            break;
        }
        let available = resource.scalar.as_ref().map(|s| s.value).unwrap_or(0.0);
        let part = round3(available.min(left));
        if part <= 0.0 {
            continue;
        }
        let mut piece = resource.clone();
        if let Some(scalar) = piece.scalar.as_mut() {
            scalar.value = part;
        }
        taken.push(piece);
        left = round3(left - part);
    }
    (left <= 0.0).then_some(taken)
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// The task to launch on `offer`, if it fits.
pub fn task_for(
    offer: &Offer,
    want: Want,
    task_id: &str,
    name: &str,
    command: &str,
) -> Option<TaskInfo> {
    let mut resources = take(&offer.resources, "cpus", want.cpus)?;
    if want.mem > 0.0 {
        resources.extend(take(&offer.resources, "mem", want.mem)?);
    }
    Some(TaskInfo {
        name: name.to_string(),
        task_id: TaskId {
            value: task_id.to_string(),
        },
        agent_id: AgentId {
            value: offer.agent_id.value.clone(),
        },
        resources,
        command: Some(CommandInfo {
            value: Some(command.to_string()),
            shell: Some(true),
            ..CommandInfo::default()
        }),
        ..TaskInfo::default()
    })
}

/// The agent's HTTP address from an offer's `url`.
pub fn agent_endpoint(offer: &Offer) -> Option<Endpoint> {
    let address = &offer.url.as_ref()?.address;
    let host = address.ip.clone().or_else(|| address.hostname.clone())?;
    let port = u16::try_from(address.port).ok()?;
    Some(Endpoint::new(host, port))
}

/// The exit code `corral run` ends with, and a message to print (when there is more to say
/// than an exit status).
pub fn outcome(state: TaskState, message: Option<&str>) -> (u8, Option<String>) {
    let message = message.unwrap_or_default();
    match state {
        TaskState::TaskFinished => (0, None),
        TaskState::TaskFailed => match corral_executor::parse_exit_code(message) {
            Some(code) => (
                u8::try_from(code).ok().filter(|c| *c != 0).unwrap_or(1),
                None,
            ),
            None => match signal_number(message) {
                Some(signal) => (128 + signal, Some(message.to_string())),
                None => (1, Some(message.to_string())),
            },
        },
        _ => (1, Some(message.to_string())),
    }
}

/// `Command terminated with signal Killed` → 9.
fn signal_number(message: &str) -> Option<u8> {
    let name = message.split("terminated with signal ").nth(1)?.trim();
    (1u8..=31).find(|n| corral_executor::status::signal_name(i32::from(*n)) == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::v1::resource::ReservationInfo;
    use corral_api::v1::value::{Scalar, Type};
    use corral_api::v1::{Address, OfferId, Url};

    fn scalar_resource(name: &str, value: f64, role: Option<&str>) -> Resource {
        Resource {
            name: name.into(),
            r#type: Type::Scalar as i32,
            scalar: Some(Scalar { value }),
            reservations: role
                .map(|role| ReservationInfo {
                    role: Some(role.to_string()),
                    ..ReservationInfo::default()
                })
                .into_iter()
                .collect(),
            ..Resource::default()
        }
    }

    fn offer(resources: Vec<Resource>) -> Offer {
        Offer {
            id: OfferId { value: "o".into() },
            agent_id: AgentId { value: "S0".into() },
            resources,
            url: Some(Url {
                scheme: "http".into(),
                address: Address {
                    hostname: Some("h".into()),
                    ip: Some("127.0.0.1".into()),
                    port: 5051,
                },
                path: Some("/slave(1)".into()),
                ..Url::default()
            }),
            ..Offer::default()
        }
    }

    #[test]
    fn quotes_only_what_needs_it() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(shell_command(&args(&["echo a | wc -c"])), "echo a | wc -c");
        assert_eq!(
            shell_command(&args(&["echo", "hello world", "it's", "$HOME", ""])),
            "echo 'hello world' 'it'\\''s' '$HOME' ''"
        );
        assert_eq!(
            shell_command(&args(&["ls", "-la", "/tmp/x.txt"])),
            "ls -la /tmp/x.txt"
        );
    }

    #[test]
    fn fits_across_reserved_and_unreserved_parts() {
        let o = offer(vec![
            scalar_resource("cpus", 0.05, Some("web")),
            scalar_resource("cpus", 1.0, None),
            scalar_resource("mem", 64.0, None),
        ]);
        let task = task_for(
            &o,
            Want {
                cpus: 0.1,
                mem: 32.0,
            },
            "t1",
            "n",
            "true",
        )
        .unwrap();
        let cpus: Vec<f64> = task
            .resources
            .iter()
            .filter(|r| r.name == "cpus")
            .map(|r| r.scalar.unwrap().value)
            .collect();
        assert_eq!(cpus, [0.05, 0.05]);
        assert_eq!(
            task.resources[0].reservations[0].role.as_deref(),
            Some("web")
        );
        assert_eq!(task.agent_id.value, "S0");
        assert!(task_for(
            &o,
            Want {
                cpus: 2.0,
                mem: 32.0
            },
            "t",
            "n",
            "true"
        )
        .is_none());
        assert!(task_for(
            &o,
            Want {
                cpus: 0.1,
                mem: 128.0
            },
            "t",
            "n",
            "true"
        )
        .is_none());
        assert_eq!(scalar(&o, "cpus"), 1.05);
        assert_eq!(agent_endpoint(&o).unwrap().to_string(), "127.0.0.1:5051");
    }

    #[test]
    fn exit_codes_follow_the_task() {
        assert_eq!(outcome(TaskState::TaskFinished, None), (0, None));
        assert_eq!(
            outcome(TaskState::TaskFailed, Some("Command exited with status 3")),
            (3, None)
        );
        assert_eq!(
            outcome(
                TaskState::TaskFailed,
                Some("Command exited with status 300")
            ),
            (1, None)
        );
        let (code, message) = outcome(
            TaskState::TaskFailed,
            Some("Command terminated with signal Killed"),
        );
        assert_eq!((code, message.is_some()), (137, true));
        assert_eq!(
            outcome(TaskState::TaskLost, Some("agent gone")),
            (1, Some("agent gone".into()))
        );
    }
}
