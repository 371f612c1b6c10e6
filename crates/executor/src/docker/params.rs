//! `DockerInfo.parameters`: arbitrary `docker run` options (`{key: "memory", value: "64m"}` is
//! `--memory=64m`), applied to the create request. The common ones are mapped onto the Engine
//! API's fields; any other key is refused with a clear error, so a task never runs with an
//! option silently dropped.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};

/// Why a parameter cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// No mapping for this `docker run` option.
    #[error("unsupported docker parameter '--{0}'")]
    Unsupported(String),
    /// The option's value is malformed.
    #[error("invalid value '{value}' for docker parameter '--{key}': {why}")]
    Invalid {
        /// The option.
        key: String,
        /// Its value.
        value: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// The `docker run` options that can be given as parameters (long names; `e`, `l`, `m`, `u`,
/// `w`, `h`, `v` are accepted as short aliases).
pub const SUPPORTED: &[&str] = &[
    "env",
    "label",
    "memory",
    "memory-reservation",
    "memory-swap",
    "cpu-shares",
    "cpus",
    "user",
    "workdir",
    "hostname",
    "entrypoint",
    "add-host",
    "cap-add",
    "cap-drop",
    "dns",
    "dns-search",
    "dns-opt",
    "security-opt",
    "group-add",
    "read-only",
    "init",
    "privileged",
    "shm-size",
    "pids-limit",
    "oom-score-adj",
    "oom-kill-disable",
    "tmpfs",
    "volume",
    "ulimit",
    "sysctl",
    "stop-signal",
    "log-driver",
    "log-opt",
    "network",
    "net",
    "ipc",
    "pid",
    "uts",
];

/// Applies one `--key=value` option to `body` (whose `host_config` is set).
pub fn apply(body: &mut ContainerCreateBody, key: &str, value: &str) -> Result<(), ParamError> {
    let key = key.trim_start_matches('-');
    let invalid = |why| ParamError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        why,
    };
    let host = body.host_config.get_or_insert_with(HostConfig::default);
    match key {
        "env" | "e" => {
            if !value.contains('=') || value.starts_with('=') {
                return Err(invalid("expected NAME=VALUE"));
            }
            body.env
                .get_or_insert_with(Vec::new)
                .push(value.to_string());
        }
        "label" | "l" => {
            let (name, text) = value.split_once('=').unwrap_or((value, ""));
            if name.is_empty() {
                return Err(invalid("expected KEY[=VALUE]"));
            }
            body.labels
                .get_or_insert_with(HashMap::new)
                .insert(name.to_string(), text.to_string());
        }
        "memory" | "m" => host.memory = Some(bytes(value).ok_or_else(|| invalid(SIZE))?),
        "memory-reservation" => {
            host.memory_reservation = Some(bytes(value).ok_or_else(|| invalid(SIZE))?);
        }
        "memory-swap" => {
            host.memory_swap = Some(if value == "-1" {
                -1
            } else {
                bytes(value).ok_or_else(|| invalid(SIZE))?
            });
        }
        "cpu-shares" | "c" => host.cpu_shares = Some(integer(value).ok_or_else(|| invalid(INT))?),
        "cpus" => {
            let cpus: f64 = value.parse().map_err(|_| invalid("expected a number"))?;
            if !(cpus.is_finite() && cpus > 0.0) {
                return Err(invalid("expected a positive number"));
            }
            host.nano_cpus = Some(to_i64(cpus * 1e9));
        }
        "user" | "u" => body.user = Some(value.to_string()),
        "workdir" | "w" => body.working_dir = Some(value.to_string()),
        "hostname" | "h" => body.hostname = Some(value.to_string()),
        "entrypoint" => body.entrypoint = Some(vec![value.to_string()]),
        "add-host" => push(&mut host.extra_hosts, value),
        "cap-add" => push(&mut host.cap_add, value),
        "cap-drop" => push(&mut host.cap_drop, value),
        "dns" => push(&mut host.dns, value),
        "dns-search" => push(&mut host.dns_search, value),
        "dns-opt" | "dns-option" => push(&mut host.dns_options, value),
        "security-opt" => push(&mut host.security_opt, value),
        "group-add" => push(&mut host.group_add, value),
        "volume" | "v" => {
            if value.split(':').count() < 2 {
                return Err(invalid("expected SOURCE:TARGET[:OPTIONS]"));
            }
            push(&mut host.binds, value);
        }
        "read-only" => host.readonly_rootfs = Some(flag(value).ok_or_else(|| invalid(BOOL))?),
        "init" => host.init = Some(flag(value).ok_or_else(|| invalid(BOOL))?),
        "privileged" => host.privileged = Some(flag(value).ok_or_else(|| invalid(BOOL))?),
        "oom-kill-disable" => {
            host.oom_kill_disable = Some(flag(value).ok_or_else(|| invalid(BOOL))?);
        }
        "shm-size" => host.shm_size = Some(bytes(value).ok_or_else(|| invalid(SIZE))?),
        "pids-limit" => host.pids_limit = Some(integer(value).ok_or_else(|| invalid(INT))?),
        "oom-score-adj" => {
            host.oom_score_adj = Some(integer(value).ok_or_else(|| invalid(INT))?);
        }
        "tmpfs" => {
            let (path, options) = value.split_once(':').unwrap_or((value, ""));
            if !path.starts_with('/') {
                return Err(invalid("expected an absolute PATH[:OPTIONS]"));
            }
            host.tmpfs
                .get_or_insert_with(HashMap::new)
                .insert(path.to_string(), options.to_string());
        }
        "ulimit" => {
            let limit = ulimit(value).ok_or_else(|| invalid("expected NAME=SOFT[:HARD]"))?;
            host.ulimits.get_or_insert_with(Vec::new).push(limit);
        }
        "sysctl" => {
            let (name, text) = value
                .split_once('=')
                .ok_or_else(|| invalid("expected NAME=VALUE"))?;
            host.sysctls
                .get_or_insert_with(HashMap::new)
                .insert(name.to_string(), text.to_string());
        }
        "stop-signal" => body.stop_signal = Some(value.to_string()),
        "log-driver" => {
            host.log_config
                .get_or_insert_with(HostConfigLogConfig::default)
                .typ = Some(value.to_string());
        }
        "log-opt" => {
            let (name, text) = value
                .split_once('=')
                .ok_or_else(|| invalid("expected NAME=VALUE"))?;
            host.log_config
                .get_or_insert_with(HostConfigLogConfig::default)
                .config
                .get_or_insert_with(HashMap::new)
                .insert(name.to_string(), text.to_string());
        }
        "network" | "net" => host.network_mode = Some(value.to_string()),
        "ipc" => host.ipc_mode = Some(value.to_string()),
        "pid" => host.pid_mode = Some(value.to_string()),
        "uts" => host.uts_mode = Some(value.to_string()),
        _ => return Err(ParamError::Unsupported(key.to_string())),
    }
    Ok(())
}

const SIZE: &str = "expected a size such as 64m or 1g";
const INT: &str = "expected an integer";
const BOOL: &str = "expected true or false";

fn push(list: &mut Option<Vec<String>>, value: &str) {
    list.get_or_insert_with(Vec::new).push(value.to_string());
}

fn integer(value: &str) -> Option<i64> {
    value.trim().parse().ok()
}

/// `docker run` booleans: an empty value (a bare `--init`) means true.
fn flag(value: &str) -> Option<bool> {
    match value.trim() {
        "" | "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Saturating float to integer.
// The value is finite here; `as` saturates on overflow, which is what a limit wants.
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn to_i64(value: f64) -> i64 {
    value.round() as i64
}

/// Docker's size syntax (`RAMInBytes`): a number, an optional unit `b k m g t p` (powers of
/// 1024, any case) and an optional `b`/`ib` suffix: `64m`, `1.5g`, `512MiB`, `1024`.
pub fn bytes(text: &str) -> Option<i64> {
    let text = text.trim().to_ascii_lowercase();
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim_start();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b').filter(|u| !u.is_empty()))
        .unwrap_or(unit);
    let power = match unit {
        "" | "b" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return None,
    };
    let value = number * 1024f64.powi(power);
    (0.0..9.0e18).contains(&value).then(|| to_i64(value))
}

fn ulimit(text: &str) -> Option<ResourcesUlimits> {
    let (name, limits) = text.split_once('=')?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    if name.is_empty() {
        return None;
    }
    Some(ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(soft.parse().ok()?),
        hard: Some(hard.parse().ok()?),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn applied(pairs: &[(&str, &str)]) -> Result<ContainerCreateBody, ParamError> {
        let mut body = ContainerCreateBody::default();
        for (key, value) in pairs {
            apply(&mut body, key, value)?;
        }
        Ok(body)
    }

    #[test]
    fn sizes_follow_docker() {
        assert_eq!(bytes("1024"), Some(1024));
        assert_eq!(bytes("64m"), Some(64 << 20));
        assert_eq!(bytes("64M"), Some(64 << 20));
        assert_eq!(bytes("512MiB"), Some(512 << 20));
        assert_eq!(bytes("1.5g"), Some(3 << 29));
        assert_eq!(bytes("2kb"), Some(2048));
        assert_eq!(bytes("12x"), None);
        assert_eq!(bytes(""), None);
        assert_eq!(bytes("-1"), None);
        assert_eq!(bytes("9999999p"), None);
    }

    #[test]
    fn common_parameters_map_to_fields() {
        let body = applied(&[
            ("env", "A=1"),
            ("e", "B=two=2"),
            ("label", "team=infra"),
            ("l", "bare"),
            ("memory", "64m"),
            ("user", "nobody"),
            ("workdir", "/tmp"),
            ("hostname", "box"),
            ("cap-add", "NET_ADMIN"),
            ("read-only", "true"),
            ("init", ""),
            ("ulimit", "nofile=1024:2048"),
            ("tmpfs", "/run:size=1m"),
            ("log-opt", "max-size=1m"),
            ("cpus", "0.5"),
        ])
        .unwrap();
        assert_eq!(body.env.unwrap(), vec!["A=1", "B=two=2"]);
        let labels = body.labels.unwrap();
        assert_eq!(labels["team"], "infra");
        assert_eq!(labels["bare"], "");
        assert_eq!(body.user.as_deref(), Some("nobody"));
        assert_eq!(body.working_dir.as_deref(), Some("/tmp"));
        assert_eq!(body.hostname.as_deref(), Some("box"));
        let host = body.host_config.unwrap();
        assert_eq!(host.memory, Some(64 << 20));
        assert_eq!(host.cap_add.unwrap(), vec!["NET_ADMIN"]);
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.init, Some(true));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        let ulimit = &host.ulimits.unwrap()[0];
        assert_eq!(
            (ulimit.name.as_deref(), ulimit.soft, ulimit.hard),
            (Some("nofile"), Some(1024), Some(2048))
        );
        assert_eq!(host.tmpfs.unwrap()["/run"], "size=1m");
        assert_eq!(host.log_config.unwrap().config.unwrap()["max-size"], "1m");
    }

    #[test]
    fn leading_dashes_are_tolerated() {
        let body = applied(&[("--memory", "1g")]).unwrap();
        assert_eq!(body.host_config.unwrap().memory, Some(1 << 30));
    }

    #[test]
    fn unknown_and_malformed_parameters_are_refused() {
        assert_eq!(
            applied(&[("gpus", "all")]).unwrap_err(),
            ParamError::Unsupported("gpus".into())
        );
        assert_eq!(
            applied(&[("name", "x")]).unwrap_err().to_string(),
            "unsupported docker parameter '--name'"
        );
        let error = applied(&[("memory", "lots")]).unwrap_err();
        assert!(error.to_string().contains("'--memory'"), "{error}");
        assert!(applied(&[("env", "NOVALUE")]).is_err());
        assert!(applied(&[("ulimit", "nofile")]).is_err());
        assert!(applied(&[("read-only", "maybe")]).is_err());
        assert!(applied(&[("cpus", "-1")]).is_err());
        assert!(applied(&[("volume", "/only")]).is_err());
    }

    #[test]
    fn every_supported_key_is_accepted() {
        for key in SUPPORTED {
            let value = match *key {
                "env" | "sysctl" | "log-opt" => "a=b",
                "label" => "a",
                "memory" | "memory-reservation" | "memory-swap" | "shm-size" => "1m",
                "cpu-shares" | "pids-limit" | "oom-score-adj" | "cpus" => "2",
                "read-only" | "init" | "privileged" | "oom-kill-disable" => "true",
                "tmpfs" => "/x",
                "volume" => "/a:/b",
                "ulimit" => "nofile=1",
                _ => "x",
            };
            assert!(applied(&[(key, value)]).is_ok(), "{key}={value}");
        }
    }
}
