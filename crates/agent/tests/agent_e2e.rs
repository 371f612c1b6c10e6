//! The real agent (real processes, real HTTP) against a fake master.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::Duration;

use corral_api::internal::{AgentCall, MasterMessage};
use corral_api::v1::{self, task_status::Reason, TaskState};
use serde_json::Value as Json;
use support::{run_custom_task, start_agent, FakeMaster, AGENT_ID};

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get_json(url: String) -> (u16, Json) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Json::String(text)),
    )
}

fn env_value<'a>(env: &'a str, name: &str) -> Option<&'a str> {
    env.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_is_started_with_its_environment_and_its_exit_fails_the_task() {
    let work = tempfile::tempdir().unwrap();
    let script = vec![run_custom_task(
        "t1",
        "e1",
        "env > env.txt; echo out; echo err >&2; sleep 0.2; exit 3",
    )];
    let mut master = FakeMaster::start(script).await;
    let agent = start_agent(&master, work.path()).await;
    let base = format!("http://{}", agent.addr);

    // SUBSCRIBE announces the agent's resources and attributes.
    let (hostname, resources, attributes) = master
        .next_call(|call| match call {
            AgentCall::Subscribe { agent_info, .. } => Some((
                agent_info.hostname.clone(),
                agent_info.resources.clone(),
                agent_info.attributes.clone(),
            )),
            _ => None,
        })
        .await;
    assert_eq!(hostname, "127.0.0.1");
    assert!(resources
        .iter()
        .any(|r| r.name == "cpus" && r.scalar.as_ref().unwrap().value == 2.0));
    assert_eq!(attributes[0].name, "rack");

    // The executor exits with 3 before subscribing: TASK_FAILED from the agent.
    let (status, latest) = master
        .next_call(|call| match call {
            AgentCall::StatusUpdate {
                framework_id,
                status,
                latest_state,
            } => {
                assert_eq!(framework_id.value, "F");
                Some((status.clone(), latest_state.clone()))
            }
            _ => None,
        })
        .await;
    assert_eq!(status.task_id.value, "t1");
    assert_eq!(status.state(), TaskState::TaskFailed);
    assert_eq!(status.reason(), Reason::ExecutorTerminated);
    assert_eq!(status.source(), v1::task_status::Source::Agent);
    assert_eq!(status.agent_id.as_ref().unwrap().value, AGENT_ID);
    assert!(
        status.message().contains("exited with status 3"),
        "{}",
        status.message()
    );
    assert_eq!(latest.as_deref(), Some("TASK_FAILED"));
    let exit = master
        .next_call(|call| match call {
            AgentCall::ExitedExecutor {
                executor_id,
                status,
                ..
            } => Some((executor_id.value.clone(), status.to_owned())),
            _ => None,
        })
        .await;
    assert_eq!(exit, ("e1".to_string(), 3));

    // The sandbox holds the executor's environment and output.
    let (code, state) = get_json(format!("{base}/state")).await;
    assert_eq!(code, 200);
    assert_eq!(state["id"], AGENT_ID);
    assert_eq!(state["version"], "1.11.0");
    assert_eq!(state["attributes"]["rack"], "r1");
    assert_eq!(state["resources"]["cpus"], 2.0);
    let executor = &state["frameworks"][0]["executors"][0];
    assert_eq!(executor["id"], "e1");
    assert_eq!(executor["tasks"][0]["state"], "TASK_FAILED");
    let directory = executor["directory"].as_str().unwrap().to_string();
    let env = std::fs::read_to_string(format!("{directory}/env.txt")).unwrap();
    let expect = [
        ("MESOS_FRAMEWORK_ID", "F".to_string()),
        ("MESOS_EXECUTOR_ID", "e1".to_string()),
        ("MESOS_SLAVE_ID", AGENT_ID.to_string()),
        ("MESOS_DIRECTORY", directory.clone()),
        ("MESOS_SANDBOX", directory.clone()),
        (
            "MESOS_AGENT_ENDPOINT",
            format!("127.0.0.1:{}", agent.addr.port()),
        ),
        (
            "MESOS_SLAVE_PID",
            format!("slave(1)@127.0.0.1:{}", agent.addr.port()),
        ),
        ("MESOS_CHECKPOINT", "0".to_string()),
        ("MESOS_HTTP_COMMAND_EXECUTOR", "1".to_string()),
        ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5secs".to_string()),
        ("LIBPROCESS_PORT", "0".to_string()),
        ("FROM_EXECUTOR_INFO", "yes".to_string()),
    ];
    for (name, value) in expect {
        assert_eq!(
            env_value(&env, name),
            Some(value.as_str()),
            "{name} in\n{env}"
        );
    }
    assert!(env_value(&env, "PATH").is_some());
    let container = executor["container"].as_str().unwrap();
    assert!(directory.ends_with(&format!(
        "/slaves/{AGENT_ID}/frameworks/F/executors/e1/runs/{container}"
    )));
    assert_eq!(
        std::fs::read_to_string(format!("{directory}/stdout")).unwrap(),
        "out\n"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{directory}/stderr")).unwrap(),
        "err\n"
    );

    // Not acknowledged: the same update is resent.
    let again = master
        .next_call(|call| match call {
            AgentCall::StatusUpdate { status, .. } => Some(status.clone()),
            _ => None,
        })
        .await;
    assert_eq!(again.uuid, status.uuid);

    // Acknowledged: the executor moves to completed_executors.
    master
        .send(MasterMessage::StatusUpdateAcknowledgement {
            framework_id: v1::FrameworkId { value: "F".into() },
            task_id: v1::TaskId { value: "t1".into() },
            uuid: status.uuid.clone().unwrap(),
        })
        .await;
    let mut completed = Json::Null;
    for _ in 0..300 {
        let (_, state) = get_json(format!("{base}/slave(1)/state.json")).await;
        if state["completed_frameworks"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            completed = state;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let executor = &completed["completed_frameworks"][0]["completed_executors"][0];
    assert_eq!(executor["completed_tasks"][0]["id"], "t1");

    // Metrics and the small endpoints.
    let (_, metrics) = get_json(format!("{base}/metrics/snapshot")).await;
    assert_eq!(metrics["slave/registered"], 1.0);
    assert_eq!(metrics["slave/tasks_failed"], 1.0);
    assert_eq!(metrics["slave/executors_terminated"], 1.0);
    assert_eq!(metrics["slave/cpus_total"], 2.0);
    let (code, _) = get_json(format!("{base}/health")).await;
    assert_eq!(code, 200);
    let (_, version) = get_json(format!("{base}/version")).await;
    assert_eq!(version["version"], "1.11.0");
    let (_, flags) = get_json(format!("{base}/flags/")).await;
    assert_eq!(flags["flags"]["status_update_retry_interval"], "300ms");

    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_serve_the_sandbox_and_nothing_else() {
    let work = tempfile::tempdir().unwrap();
    let script = vec![run_custom_task(
        "t1",
        "e1",
        "printf 'hello sandbox' > note.txt; sleep 30",
    )];
    let master = FakeMaster::start(script).await;
    let agent = start_agent(&master, work.path()).await;
    let base = format!("http://{}", agent.addr);

    let latest = "/frameworks/F/executors/e1/runs/latest";
    let mut listing = Json::Null;
    for _ in 0..300 {
        let (code, body) = get_json(format!("{base}/files/browse?path={latest}")).await;
        if code == 200
            && body.as_array().is_some_and(|a| {
                a.iter()
                    .any(|e| e["path"].as_str().is_some_and(|p| p.ends_with("note.txt")))
            })
        {
            listing = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let entries = listing.as_array().expect("sandbox listing");
    let note = entries
        .iter()
        .find(|e| e["path"] == format!("{latest}/note.txt"))
        .expect("note.txt listed");
    assert_eq!(note["size"], 13);
    assert_eq!(note["mode"], "-rw-r--r--");
    assert!(entries
        .iter()
        .any(|e| e["path"] == format!("{latest}/stdout")));

    let (code, read) = get_json(format!(
        "{base}/files/read?path={latest}/note.txt&offset=6&length=3"
    ))
    .await;
    assert_eq!(code, 200);
    assert_eq!(read, serde_json::json!({"data": "san", "offset": 6}));
    let (_, read) = get_json(format!(
        "{base}/files/read?path={latest}/note.txt&offset=-1"
    ))
    .await;
    assert_eq!(read, serde_json::json!({"data": "", "offset": 13}));
    let (code, _) = get_json(format!("{base}/files/read?offset=0")).await;
    assert_eq!(code, 400);
    let (code, _) = get_json(format!("{base}/files/read?path={latest}/missing")).await;
    assert_eq!(code, 404);

    // The real path works too.
    let (_, state) = get_json(format!("{base}/state")).await;
    let directory = state["frameworks"][0]["executors"][0]["directory"]
        .as_str()
        .unwrap()
        .to_string();
    let response = client()
        .get(format!("{base}/files/download?path={directory}/note.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(response.text().await.unwrap(), "hello sandbox");

    // Nothing outside a sandbox is served.
    std::fs::write(work.path().join("secret"), "top secret").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", format!("{directory}/passwd")).unwrap();
    for path in [
        "/etc/passwd".to_string(),
        format!("{}/secret", work.path().display()),
        format!("{directory}/../../../../../../../../secret"),
        format!("{latest}/../../../../../../../../../secret"),
        format!("{directory}/passwd"),
        format!("{latest}/passwd"),
    ] {
        for endpoint in ["read", "download", "browse"] {
            let response = client()
                .get(format!("{base}/files/{endpoint}"))
                .query(&[("path", path.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404, "{endpoint} {path}");
            let text = response.text().await.unwrap();
            assert!(
                !text.contains("top secret") && !text.contains("root:"),
                "{text}"
            );
        }
    }

    // The running executor shows up in /monitor/statistics; shutdown kills it.
    let (code, statistics) = get_json(format!("{base}/monitor/statistics")).await;
    assert_eq!(code, 200);
    assert_eq!(statistics[0]["executor_id"], "e1");
    assert_eq!(
        statistics[0]["statistics"]["mem_limit_bytes"],
        64 * 1024 * 1024
    );
    let pid = state["frameworks"][0]["executors"][0]["container"]
        .as_str()
        .map(str::to_string);
    assert!(pid.is_some());
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_api_subscribe_update_kill() {
    let work = tempfile::tempdir().unwrap();
    let script = vec![run_custom_task("t1", "e1", "sleep 30")];
    let mut master = FakeMaster::start(script).await;
    let agent = start_agent(&master, work.path()).await;
    let url = format!("http://{}/api/v1/executor", agent.addr);

    // Wait until the executor's container runs, then act as the executor.
    let call = |kind: &str, extra: Json| {
        let mut body = serde_json::json!({
            "type": kind,
            "framework_id": {"value": "F"},
            "executor_id": {"value": "e1"},
        });
        if let (Json::Object(body), Json::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        body.to_string()
    };
    let post = |body: String| {
        client()
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body)
            .send()
    };
    // Before SUBSCRIBE: 403 (once the executor exists).
    let update = |state: &str, uuid: &str| {
        call(
            "UPDATE",
            serde_json::json!({"update": {"status": {
            "task_id": {"value": "t1"}, "state": state, "source": "SOURCE_EXECUTOR", "uuid": uuid}}}),
        )
    };
    let uuid = "ex7g5Uh8TG6VsY62GCHBng==";
    let mut code = 0;
    for _ in 0..300 {
        code = post(update("TASK_RUNNING", uuid))
            .await
            .unwrap()
            .status()
            .as_u16();
        if code != 400 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(code, 403);

    let mut stream = post(call("SUBSCRIBE", serde_json::json!({"subscribe": {}})))
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers().get("content-length").is_none());
    let mut decoder = corral_http::RecordIoDecoder::default();
    let mut events: Vec<Json> = Vec::new();
    let mut next_event = async || -> Json {
        loop {
            if let Some(record) = decoder.next_record().unwrap() {
                return serde_json::from_slice(&record).unwrap();
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
                .await
                .expect("no event in time")
                .unwrap()
                .expect("stream ended");
            decoder.feed(&chunk);
        }
    };
    events.push(next_event().await);
    events.push(next_event().await);
    assert_eq!(events[0]["type"], "SUBSCRIBED");
    assert_eq!(
        events[0]["subscribed"]["framework_info"]["id"]["value"],
        "F"
    );
    assert_eq!(
        events[0]["subscribed"]["executor_info"]["executor_id"]["value"],
        "e1"
    );
    assert_eq!(
        events[0]["subscribed"]["agent_info"]["id"]["value"],
        AGENT_ID
    );
    assert_eq!(events[1]["type"], "LAUNCH");
    assert_eq!(events[1]["launch"]["task"]["task_id"]["value"], "t1");

    // Bad updates are 400; a good one is 202, acknowledged and forwarded.
    assert_eq!(
        post(update("TASK_STAGING", uuid)).await.unwrap().status(),
        400
    );
    assert_eq!(
        post(update("TASK_RUNNING", "AAAA")).await.unwrap().status(),
        400
    );
    assert_eq!(post("{not json".to_string()).await.unwrap().status(), 400);
    assert_eq!(
        post(update("TASK_RUNNING", uuid)).await.unwrap().status(),
        202
    );
    let acknowledged = next_event().await;
    assert_eq!(acknowledged["type"], "ACKNOWLEDGED");
    assert_eq!(acknowledged["acknowledged"]["uuid"], uuid);
    let status = master
        .next_call(|call| match call {
            AgentCall::StatusUpdate { status, .. } => Some(status.clone()),
            _ => None,
        })
        .await;
    assert_eq!(status.state(), TaskState::TaskRunning);
    assert_eq!(status.executor_id.as_ref().unwrap().value, "e1");

    // MESSAGE goes to the master; KILL_TASK comes to the executor.
    let message = call("MESSAGE", serde_json::json!({"message": {"data": "aGk="}}));
    assert_eq!(post(message).await.unwrap().status(), 202);
    let data = master
        .next_call(|call| match call {
            AgentCall::ExecutorMessage { data, .. } => Some(data.clone()),
            _ => None,
        })
        .await;
    assert_eq!(data, b"hi");
    master
        .send(MasterMessage::KillTask {
            framework_id: v1::FrameworkId { value: "F".into() },
            task_id: v1::TaskId { value: "t1".into() },
            kill_policy: None,
        })
        .await;
    let kill = next_event().await;
    assert_eq!(kill["type"], "KILL");
    assert_eq!(kill["kill"]["task_id"]["value"], "t1");

    // Wrong method and content type.
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let response = client()
        .post(&url)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);

    agent.shutdown().await;
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
        .await
        .unwrap();
    assert!(
        matches!(ended, Ok(None) | Err(_)),
        "stream still open: {ended:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_reregisters_and_resubscribes_when_fenced() {
    let work = tempfile::tempdir().unwrap();
    let script = vec![run_custom_task("t1", "e1", "sleep 30")];
    let mut master = FakeMaster::start(script).await;
    let agent = start_agent(&master, work.path()).await;
    let base = format!("http://{}", agent.addr);

    let first = master
        .next_call(|call| match call {
            AgentCall::Subscribe { agent_info, .. } => Some(agent_info.id.clone()),
            _ => None,
        })
        .await;
    assert_eq!(first, None, "a new agent has no id");
    for _ in 0..300 {
        let (_, state) = get_json(format!("{base}/state")).await;
        if state["frameworks"][0]["executors"][0]["queued_tasks"][0]["id"] == "t1" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The stream ends: the agent re-registers with its id and what it runs.
    master.close_stream();
    let (envelope_agent, info_id, frameworks, tasks) = master
        .next_recorded(|recorded| match &recorded.envelope.call {
            AgentCall::Subscribe {
                agent_info,
                frameworks,
                tasks,
                ..
            } => Some((
                recorded.envelope.agent_id.clone(),
                agent_info.id.clone(),
                frameworks.clone(),
                tasks.clone(),
            )),
            _ => None,
        })
        .await;
    assert_eq!(envelope_agent.unwrap().value, AGENT_ID);
    assert_eq!(info_id.unwrap().value, AGENT_ID);
    assert_eq!(frameworks[0].id.as_ref().unwrap().value, "F");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].task_id.value, "t1");
    assert_eq!(tasks[0].state(), TaskState::TaskStaging);

    // The master starts a new session behind the agent's back: the agent's next call is
    // fenced (409) and it re-subscribes; the unacknowledged update is then resent.
    master.fence("stream-2");
    master
        .send(MasterMessage::KillTask {
            framework_id: v1::FrameworkId { value: "F".into() },
            task_id: v1::TaskId {
                value: "unknown".into(),
            },
            kill_policy: None,
        })
        .await;
    let refused = master
        .next_recorded(|recorded| match &recorded.envelope.call {
            AgentCall::StatusUpdate { status, .. } => Some((status.clone(), recorded.accepted)),
            _ => None,
        })
        .await;
    assert_eq!(refused.0.state(), TaskState::TaskLost);
    assert!(!refused.1, "the fenced call is refused");
    master
        .next_call(|call| matches!(call, AgentCall::Subscribe { .. }).then_some(()))
        .await;
    let resent = master
        .next_recorded(|recorded| match &recorded.envelope.call {
            AgentCall::StatusUpdate { status, .. } if recorded.accepted => Some(status.clone()),
            _ => None,
        })
        .await;
    assert_eq!(resent.uuid, refused.0.uuid);
    agent.shutdown().await;
}
