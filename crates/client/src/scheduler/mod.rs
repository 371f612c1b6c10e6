//! The scheduler API client (`POST /api/v1/scheduler`, `reference/mesos-v1-api.md` §1).
//!
//! [`SchedulerClient::subscribe`] finds the leading master (following `307` redirects, retrying
//! `503` and connection errors with backoff), opens the subscription and waits for `SUBSCRIBED`.
//! It returns a [`SchedulerHandle`] for the other calls (which carry the `Mesos-Stream-Id`) and
//! the stream of events, `SUBSCRIBED` first. The stream fails with
//! [`ClientError::MissedHeartbeats`] after 5 heartbeat intervals without a record; reconnecting
//! is the caller's choice ([`SchedulerHandle::resubscribe`]).

pub mod calls;
mod handle;

pub use handle::SchedulerHandle;

use std::sync::Arc;
use std::time::Duration;

use corral_api::v1::scheduler::event::{self, Type as EventType};
use corral_api::v1::scheduler::Event;
use corral_api::v1::FrameworkInfo;
use corral_http::Encoding;
use http::{Method, StatusCode};
use tokio::time::Instant;

use crate::endpoint::{DetectedLeader, Endpoint, MASTER_PORT};
use crate::error::ClientError;
use crate::stream::{EventStream, RecordStream};
use crate::transport::{self, Http, STREAM_ID};

/// The scheduler endpoint's path.
pub const SCHEDULER_PATH: &str = "/api/v1/scheduler";
/// Mesos's default heartbeat interval, used when SUBSCRIBED does not give one.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// How to subscribe.
#[derive(Clone, Debug)]
pub struct SubscribeOptions {
    /// Roles to subscribe suppressed.
    pub suppressed_roles: Vec<String>,
    /// How long to keep looking for a leading master (503s, connection errors).
    pub leader_timeout: Duration,
    /// The most redirects followed in a row.
    pub max_redirects: usize,
    /// Heartbeat intervals without any record before the stream is declared dead.
    pub missed_heartbeats: u32,
    /// Time limit of each non-streaming call, and of the wait for `SUBSCRIBED`.
    pub request_timeout: Duration,
    /// First delay between attempts; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Largest delay between attempts.
    pub max_backoff: Duration,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            suppressed_roles: Vec::new(),
            leader_timeout: Duration::from_secs(60),
            max_redirects: 8,
            missed_heartbeats: 5,
            request_timeout: transport::DEFAULT_REQUEST_TIMEOUT,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(15),
        }
    }
}

/// Entry point of the scheduler API.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerClient;

/// Outcome of one SUBSCRIBE attempt.
enum Attempt {
    Subscribed(Box<(SchedulerHandle, EventStream<Event>)>),
    Redirect(Endpoint),
    Retry(ClientError),
}

impl SchedulerClient {
    /// Subscribes `framework_info` (re-subscribes when it carries an id) at `master`: one
    /// address or a comma-separated list (`host:port`, `http://host:port`), or a ZooKeeper URL
    /// (`zk://host:port[,host:port...]/path`) naming the leader.
    pub async fn subscribe(
        master: &str,
        framework_info: FrameworkInfo,
        options: SubscribeOptions,
    ) -> Result<(SchedulerHandle, EventStream<Event>), ClientError> {
        if DetectedLeader::is_zk(master) {
            let detected = DetectedLeader::start(master)?;
            let started = Instant::now();
            let leader = detected.wait(options.leader_timeout).await.ok_or_else(|| {
                ClientError::Unavailable {
                    waited: started.elapsed(),
                    last: format!("no leading master registered at {master}"),
                }
            })?;
            let masters = vec![leader.clone()];
            return subscribe_to(
                masters,
                Some(leader),
                Some(detected),
                framework_info,
                options,
            )
            .await;
        }
        let masters = parse_masters(master)?;
        subscribe_to(masters, None, None, framework_info, options).await
    }
}

/// Splits `m1:5050,http://m2:5050` into endpoints.
pub fn parse_masters(master: &str) -> Result<Vec<Endpoint>, ClientError> {
    let masters = master
        .split(',')
        .filter(|m| !m.trim().is_empty())
        .map(|m| Endpoint::parse(m, MASTER_PORT))
        .collect::<Result<Vec<_>, _>>()?;
    if masters.is_empty() {
        return Err(ClientError::InvalidAddress {
            address: master.to_string(),
            reason: "no master address".into(),
        });
    }
    Ok(masters)
}

async fn subscribe_to(
    masters: Vec<Endpoint>,
    first: Option<Endpoint>,
    detected: Option<DetectedLeader>,
    framework_info: FrameworkInfo,
    options: SubscribeOptions,
) -> Result<(SchedulerHandle, EventStream<Event>), ClientError> {
    let http = Http::new(options.request_timeout);
    let started = Instant::now();
    let deadline = started + options.leader_timeout;
    let mut backoff = options.initial_backoff;
    let mut next = 0usize;
    let mut target = first.unwrap_or_else(|| masters[0].clone());
    let mut redirects = 0usize;
    loop {
        let attempt = try_subscribe(&http, &masters, &target, &framework_info, &options).await?;
        match attempt {
            Attempt::Subscribed(mut done) => {
                if let Some(detected) = &detected {
                    if let Some(inner) = Arc::get_mut(&mut done.0.inner) {
                        inner.detected = Some(detected.clone());
                    }
                }
                return Ok(*done);
            }
            Attempt::Redirect(leader) => {
                redirects += 1;
                if redirects > options.max_redirects {
                    return Err(ClientError::TooManyRedirects(redirects - 1));
                }
                tracing::debug!(from = %target, to = %leader, "following redirect to the leading master");
                target = leader;
            }
            Attempt::Retry(error) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(ClientError::Unavailable {
                        waited: started.elapsed(),
                        last: error.to_string(),
                    });
                }
                tracing::debug!(master = %target, %error, ?backoff, "no leading master yet; retrying");
                // The last attempt is made at the deadline.
                tokio::time::sleep(backoff.min(deadline - now)).await;
                backoff = (backoff * 2).min(options.max_backoff);
                next = (next + 1) % masters.len();
                target = match detected.as_ref().and_then(DetectedLeader::current) {
                    Some(leader) => leader,
                    None => masters[next].clone(),
                };
                redirects = 0;
            }
        }
    }
}

async fn try_subscribe(
    http: &Http,
    masters: &[Endpoint],
    target: &Endpoint,
    framework_info: &FrameworkInfo,
    options: &SubscribeOptions,
) -> Result<Attempt, ClientError> {
    let url = target.url(SCHEDULER_PATH);
    let call = calls::subscribe(framework_info.clone(), options.suppressed_roles.clone());
    let body = corral_http::encode(Encoding::Json, &call);
    let response = match http
        .send(
            Method::POST,
            &url,
            transport::json_headers(),
            body,
            options.request_timeout,
        )
        .await
    {
        Ok(response) => response,
        Err(error) if error.is_transient() => return Ok(Attempt::Retry(error)),
        Err(error) => return Err(error),
    };
    let status = response.status();
    if status == StatusCode::TEMPORARY_REDIRECT {
        return transport::redirect_target(response.headers(), target.port())
            .map(Attempt::Redirect);
    }
    if status != StatusCode::OK {
        let body = transport::read_body(&url, response.into_body())
            .await
            .unwrap_or_default();
        let error = transport::status_error(&url, status, &body);
        return if status == StatusCode::SERVICE_UNAVAILABLE {
            Ok(Attempt::Retry(error))
        } else {
            Err(error)
        };
    }
    let stream_id = response
        .headers()
        .get(&STREAM_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or(ClientError::MissingStreamId)?;
    let mut reader = RecordStream::<Event>::new(url.clone(), response.into_body());
    let first = tokio::time::timeout(options.request_timeout, reader.next_event())
        .await
        .map_err(|_| ClientError::Timeout {
            url: url.clone(),
            after: options.request_timeout,
        })?
        .unwrap_or(Err(ClientError::StreamEnded))?;
    let subscribed = match (first.r#type(), &first.subscribed, &first.error) {
        (EventType::Subscribed, Some(subscribed), _) => subscribed.clone(),
        (EventType::Error, _, Some(error)) => {
            return Err(ClientError::Refused(error.message.clone()))
        }
        (kind, _, _) => return Err(ClientError::UnexpectedEvent(kind.as_str_name().to_string())),
    };
    let heartbeat = heartbeat_interval(&subscribed);
    reader.set_idle_limit(Some(heartbeat * options.missed_heartbeats.max(1)));
    let handle = SchedulerHandle {
        inner: Arc::new(handle::HandleInner {
            http: http.clone(),
            masters: masters.to_vec(),
            leader: target.clone(),
            stream_id,
            framework_id: subscribed.framework_id.clone(),
            framework_info: framework_info.clone(),
            master_info: subscribed.master_info.clone(),
            detected: None,
            heartbeat,
            options: options.clone(),
        }),
    };
    tracing::debug!(framework_id = %handle.framework_id().value, leader = %target, "subscribed");
    Ok(Attempt::Subscribed(Box::new((
        handle,
        reader.into_stream(Some(first)),
    ))))
}

fn heartbeat_interval(subscribed: &event::Subscribed) -> Duration {
    subscribed
        .heartbeat_interval_seconds
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
        .unwrap_or(DEFAULT_HEARTBEAT)
}

#[cfg(test)]
mod tests;
