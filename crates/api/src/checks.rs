//! Validation of health checks (`HealthCheck`), shared by the master (an invalid check is a
//! `TASK_ERROR` at ACCEPT) and the executors (which refuse to run it).

use crate::v1::health_check::Type as CheckType;
use crate::v1::HealthCheck;

/// Checks a health check's shape; the message says what is wrong.
pub fn validate_health_check(check: &HealthCheck) -> Result<(), String> {
    for (name, value) in [
        ("delay_seconds", check.delay_seconds()),
        ("interval_seconds", check.interval_seconds()),
        ("timeout_seconds", check.timeout_seconds()),
        ("grace_period_seconds", check.grace_period_seconds()),
    ] {
        if !value.is_finite() || value < 0.0 {
            return Err(format!("'{name}' must be a non-negative number"));
        }
    }
    let Some(kind) = check.r#type.and_then(|t| CheckType::try_from(t).ok()) else {
        return Err("'type' must be COMMAND, HTTP or TCP".into());
    };
    match kind {
        CheckType::Unknown => Err("'type' must be COMMAND, HTTP or TCP".into()),
        CheckType::Command => {
            let command = check
                .command
                .as_ref()
                .ok_or("a COMMAND health check must have 'command'")?;
            if command.value.as_deref().is_none_or(str::is_empty) {
                return Err("the health check command has no 'value'".into());
            }
            Ok(())
        }
        CheckType::Http => {
            let http = check
                .http
                .as_ref()
                .ok_or("an HTTP health check must have 'http'")?;
            port(http.port)?;
            if let Some(scheme) = http.scheme.as_deref() {
                if scheme != "http" && scheme != "https" {
                    return Err(format!(
                        "unsupported HTTP health check scheme '{scheme}' (http or https)"
                    ));
                }
            }
            if let Some(path) = http.path.as_deref() {
                if !path.is_empty() && !path.starts_with('/') {
                    return Err(format!(
                        "the HTTP health check path '{path}' must start with '/'"
                    ));
                }
            }
            Ok(())
        }
        CheckType::Tcp => {
            let tcp = check
                .tcp
                .as_ref()
                .ok_or("a TCP health check must have 'tcp'")?;
            port(tcp.port)
        }
    }
}

fn port(port: u32) -> Result<(), String> {
    if port == 0 || port > u32::from(u16::MAX) {
        return Err(format!("invalid health check port {port}"));
    }
    Ok(())
}
