//! The scheduler client against in-process fake masters.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use corral_api::v1::scheduler::event::{Offers, Subscribed};
use corral_api::v1::scheduler::{event, Event};
use corral_api::v1::{FrameworkId, FrameworkInfo, Offer, OfferId};
use corral_http::{encode, Encoding};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::handle::HandleInner;
use super::*;

#[derive(Default)]
struct Fake {
    /// Bodies (as JSON values) and stream-id headers of the calls received.
    calls: Mutex<Vec<(Option<String>, serde_json::Value)>>,
    /// Events sent right after SUBSCRIBED.
    subscribed: Mutex<Option<Subscribed>>,
    /// Senders of the open streams (kept open while the test runs).
    streams: Mutex<Vec<mpsc::Sender<Bytes>>>,
    /// Remaining 503 answers before subscriptions succeed.
    unavailable: Mutex<u32>,
    /// Answer SUBSCRIBE with an ERROR event.
    refuse: Mutex<Option<String>>,
}

fn event_bytes(event: &Event) -> Bytes {
    encode(Encoding::Json, event)
}

async fn scheduler(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: Bytes) -> Response {
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let stream_id = headers
        .get("mesos-stream-id")
        .map(|v| v.to_str().unwrap().to_string());
    fake.calls
        .lock()
        .unwrap()
        .push((stream_id.clone(), value.clone()));
    if value["type"] != "SUBSCRIBE" {
        return match stream_id.as_deref() {
            Some("stream-1") => StatusCode::ACCEPTED.into_response(),
            _ => (StatusCode::BAD_REQUEST, "The stream ID is not valid").into_response(),
        };
    }
    {
        let mut unavailable = fake.unavailable.lock().unwrap();
        if *unavailable > 0 {
            *unavailable -= 1;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "Master has not been elected yet",
            )
                .into_response();
        }
    }
    let (tx, rx) = mpsc::channel(16);
    let first = match fake.refuse.lock().unwrap().clone() {
        Some(message) => Event {
            r#type: Some(event::Type::Error as i32),
            error: Some(event::Error { message }),
            ..Event::default()
        },
        None => Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: fake.subscribed.lock().unwrap().clone(),
            ..Event::default()
        },
    };
    tx.try_send(event_bytes(&first)).unwrap();
    let offers = Event {
        r#type: Some(event::Type::Offers as i32),
        offers: Some(Offers {
            offers: vec![Offer {
                id: OfferId { value: "o1".into() },
                hostname: "agent".into(),
                ..Offer::default()
            }],
        }),
        ..Event::default()
    };
    tx.try_send(event_bytes(&offers)).unwrap();
    fake.streams.lock().unwrap().push(tx);
    let mut headers = HeaderMap::new();
    headers.insert("mesos-stream-id", "stream-1".parse().unwrap());
    corral_http::recordio_stream_response(Encoding::Json, headers, rx)
}

async fn start(fake: Arc<Fake>) -> SocketAddr {
    let app = Router::new()
        .route("/api/v1/scheduler", post(scheduler))
        .with_state(fake);
    serve(app).await
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A server that redirects every scheduler call to `leader`, protocol-relative as Mesos does.
async fn redirector(leader: SocketAddr) -> SocketAddr {
    let app = Router::new().route(
        "/api/v1/scheduler",
        post(move || async move {
            (
                StatusCode::TEMPORARY_REDIRECT,
                [("location", format!("//{leader}/master/api/v1/scheduler"))],
            )
        }),
    );
    serve(app).await
}

fn info() -> FrameworkInfo {
    FrameworkInfo {
        user: "alice".into(),
        name: "test".into(),
        ..FrameworkInfo::default()
    }
}

fn subscribed(heartbeat: f64) -> Subscribed {
    Subscribed {
        framework_id: FrameworkId {
            value: "fw-1".into(),
        },
        heartbeat_interval_seconds: Some(heartbeat),
        master_info: None,
    }
}

fn quick() -> SubscribeOptions {
    SubscribeOptions {
        leader_timeout: Duration::from_secs(5),
        initial_backoff: Duration::from_millis(10),
        ..SubscribeOptions::default()
    }
}

#[tokio::test]
async fn subscribes_through_a_redirect_and_a_503() {
    let fake = Arc::new(Fake::default());
    *fake.subscribed.lock().unwrap() = Some(subscribed(15.0));
    *fake.unavailable.lock().unwrap() = 1;
    let leader = start(fake.clone()).await;
    let follower = redirector(leader).await;

    let (handle, mut events) =
        SchedulerClient::subscribe(&format!("http://{follower}"), info(), quick())
            .await
            .unwrap();
    assert_eq!(handle.framework_id().value, "fw-1");
    assert_eq!(handle.stream_id(), "stream-1");
    assert_eq!(handle.leader().to_string(), leader.to_string());
    assert_eq!(handle.heartbeat_interval(), Duration::from_secs(15));

    let first = events.next().await.unwrap().unwrap();
    assert_eq!(first.r#type(), event::Type::Subscribed);
    let second = events.next().await.unwrap().unwrap();
    assert_eq!(second.offers.unwrap().offers[0].id.value, "o1");

    handle
        .decline(
            vec![OfferId { value: "o1".into() }],
            Some(calls::refuse_for(1.0)),
        )
        .await
        .unwrap();
    handle.teardown().await.unwrap();
    let calls = fake.calls.lock().unwrap().clone();
    let kinds: Vec<_> = calls
        .iter()
        .map(|(_, v)| v["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["SUBSCRIBE", "SUBSCRIBE", "DECLINE", "TEARDOWN"]);
    assert_eq!(calls[0].0, None, "SUBSCRIBE must not carry a stream id");
    assert_eq!(calls[2].0.as_deref(), Some("stream-1"));
    assert_eq!(calls[2].1["framework_id"]["value"], "fw-1");
    assert_eq!(calls[2].1["decline"]["filters"]["refuse_seconds"], 1.0);
}

#[tokio::test]
async fn resubscribe_sends_the_framework_id() {
    let fake = Arc::new(Fake::default());
    *fake.subscribed.lock().unwrap() = Some(subscribed(15.0));
    let leader = start(fake.clone()).await;
    let (handle, _events) = SchedulerClient::subscribe(&leader.to_string(), info(), quick())
        .await
        .unwrap();
    let (again, _events) = handle.resubscribe().await.unwrap();
    assert_eq!(again.framework_id().value, "fw-1");
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls[1].1["framework_id"]["value"], "fw-1");
    assert_eq!(
        calls[1].1["subscribe"]["framework_info"]["id"]["value"],
        "fw-1"
    );
}

#[tokio::test]
async fn missed_heartbeats_fail_the_stream() {
    let fake = Arc::new(Fake::default());
    *fake.subscribed.lock().unwrap() = Some(subscribed(0.02));
    let leader = start(fake).await;
    let (_handle, mut events) = SchedulerClient::subscribe(&leader.to_string(), info(), quick())
        .await
        .unwrap();
    assert!(events.next().await.unwrap().is_ok());
    assert!(events.next().await.unwrap().is_ok());
    let error = events.next().await.unwrap().unwrap_err();
    assert!(
        matches!(error, ClientError::MissedHeartbeats(d) if d == Duration::from_millis(100)),
        "{error}"
    );
    assert!(events.next().await.is_none());
}

#[tokio::test]
async fn an_error_event_refuses_the_subscription() {
    let fake = Arc::new(Fake::default());
    *fake.refuse.lock().unwrap() = Some("Framework has been removed".into());
    let leader = start(fake).await;
    let error = SchedulerClient::subscribe(&leader.to_string(), info(), quick())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&error, ClientError::Refused(m) if m == "Framework has been removed"),
        "{error}"
    );
}

#[tokio::test]
async fn a_bad_call_reports_status_and_body() {
    let fake = Arc::new(Fake::default());
    *fake.subscribed.lock().unwrap() = Some(subscribed(15.0));
    let leader = start(fake).await;
    let (handle, _events) = SchedulerClient::subscribe(&leader.to_string(), info(), quick())
        .await
        .unwrap();
    let forged = SchedulerHandle {
        inner: Arc::new(HandleInner {
            stream_id: "other".into(),
            ..(*handle.inner).clone_for_test()
        }),
    };
    let error = forged.revive(vec![]).await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST));
    assert!(
        error.to_string().contains("The stream ID is not valid"),
        "{error}"
    );
}

#[tokio::test]
async fn no_master_gives_up_after_the_leader_timeout() {
    // Bound but never listening: refuses connections, and no parallel test
    // can take the port while `held` lives.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = held.local_addr().unwrap();
    let options = SubscribeOptions {
        leader_timeout: Duration::from_millis(200),
        ..quick()
    };
    let error = SchedulerClient::subscribe(&addr.to_string(), info(), options)
        .await
        .err()
        .unwrap();
    assert!(matches!(error, ClientError::Unavailable { .. }), "{error}");
}

impl HandleInner {
    fn clone_for_test(&self) -> HandleInner {
        HandleInner {
            http: self.http.clone(),
            masters: self.masters.clone(),
            leader: self.leader.clone(),
            stream_id: self.stream_id.clone(),
            framework_id: self.framework_id.clone(),
            framework_info: self.framework_info.clone(),
            master_info: self.master_info.clone(),
            detected: self.detected.clone(),
            heartbeat: self.heartbeat,
            options: self.options.clone(),
        }
    }
}
