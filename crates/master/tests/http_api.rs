#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
//! The master's HTTP surface over real loopback: the subscription stream, Mesos's status codes
//! for bad calls, path aliases, and that bad input changes nothing.

use std::time::Duration;

use corral_master::{start, MasterFlags, RunningMaster};
use serde_json::{json, Value};

async fn master() -> (RunningMaster, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = MasterFlags::defaults();
    flags.port = 0;
    flags.work_dir = dir.path().to_path_buf();
    flags.heartbeat_send_interval = "200ms".into();
    let m = start(flags).await.unwrap();
    let base = format!("http://{}", m.addr);
    (m, base, dir)
}

fn subscribe_body(name: &str) -> Value {
    json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": name}}})
}

/// Read RecordIO records from a streaming response until `n` have arrived.
async fn records(resp: &mut reqwest::Response, n: usize) -> Vec<Value> {
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let len: usize = std::str::from_utf8(&buf[..nl]).unwrap().parse().unwrap();
            if buf.len() < nl + 1 + len {
                break;
            }
            out.push(serde_json::from_slice(&buf[nl + 1..nl + 1 + len]).unwrap());
            buf.drain(..nl + 1 + len);
        }
    }
    out
}

#[tokio::test]
async fn subscription_stream_and_calls() {
    let (m, base, _dir) = master().await;
    let client = reqwest::Client::new();
    let mut resp = client
        .post(format!("{base}/api/v1/scheduler"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(subscribe_body("fw").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get("content-length").is_none(),
        "the stream is chunked"
    );
    let stream_id = resp.headers()["Mesos-Stream-Id"]
        .to_str()
        .unwrap()
        .to_string();
    let events = records(&mut resp, 2).await;
    assert_eq!(events[0]["type"], "SUBSCRIBED");
    assert_eq!(events[0]["subscribed"]["heartbeat_interval_seconds"], 15.0);
    assert_eq!(events[1]["type"], "HEARTBEAT");
    let fid = events[0]["subscribed"]["framework_id"]["value"]
        .as_str()
        .unwrap()
        .to_string();

    let call = |body: Value, sid: Option<&str>| {
        let mut r = client
            .post(format!("{base}/api/v1/scheduler"))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(s) = sid {
            r = r.header("Mesos-Stream-Id", s);
        }
        r.send()
    };
    let revive = json!({"type": "REVIVE", "framework_id": {"value": fid}});
    assert_eq!(
        call(revive.clone(), Some(&stream_id))
            .await
            .unwrap()
            .status(),
        202
    );
    let wrong = call(revive.clone(), Some("not-the-stream")).await.unwrap();
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.unwrap().contains("stream ID"));
    let unknown = json!({"type": "REVIVE", "framework_id": {"value": "nope"}});
    assert_eq!(call(unknown, Some(&stream_id)).await.unwrap().status(), 400);
    let short_uuid = json!({"type": "ACKNOWLEDGE", "framework_id": {"value": fid},
        "acknowledge": {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "AAEC"}});
    assert_eq!(
        call(short_uuid, Some(&stream_id)).await.unwrap().status(),
        400
    );

    // The framework shows up in the legacy endpoints, under every alias tools use.
    for path in [
        "/frameworks",
        "/master/frameworks",
        "/master/frameworks/",
        "/state",
        "/state.json",
        "/master/state",
    ] {
        let v: Value = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let frameworks = v["frameworks"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: {v}"));
        assert_eq!(frameworks[0]["id"], fid.as_str(), "{path}");
    }
    // TEARDOWN ends the stream.
    let teardown = json!({"type": "TEARDOWN", "framework_id": {"value": fid}});
    assert_eq!(
        call(teardown, Some(&stream_id)).await.unwrap().status(),
        202
    );
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = resp.chunk().await {}
    })
    .await;
    assert!(end.is_ok(), "stream closed after TEARDOWN");
    let v: Value = client
        .get(format!("{base}/frameworks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["completed_frameworks"][0]["id"], fid.as_str());
    m.shutdown().await;
}

#[tokio::test]
async fn hostile_input_gets_clear_errors_and_changes_nothing() {
    let (m, base, _dir) = master().await;
    let client = reqwest::Client::new();
    let post = |ct: &'static str, body: Vec<u8>| {
        client
            .post(format!("{base}/api/v1/scheduler"))
            .header("Content-Type", ct)
            .body(body)
            .send()
    };
    let r = post("application/json", b"{not json".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = post("application/x-protobuf", vec![0xff, 0xff, 0xff, 0xff, 0x0f])
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = post(
        "application/json",
        br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text().await.unwrap().contains("user"),
        "names the missing field"
    );
    let r = post("text/plain", b"{}".to_vec()).await.unwrap();
    assert_eq!(r.status(), 415);
    let r = post("application/json", vec![b' '; 5 << 20]).await.unwrap();
    assert_eq!(r.status(), 413);
    let r = client
        .get(format!("{base}/api/v1/scheduler"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["Allow"], "POST");
    let r = client
        .post(format!("{base}/api/v1/scheduler"))
        .header("Content-Type", "application/json")
        .header("Accept", "text/html")
        .body(subscribe_body("x").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    let r = client
        .get(format!("{base}/tasks?limit=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Nothing was registered by any of it.
    let v: Value = client
        .get(format!("{base}/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["frameworks"].as_array().unwrap().is_empty());
    assert!(v["completed_frameworks"].as_array().unwrap().is_empty());
    m.shutdown().await;
}

#[tokio::test]
async fn operator_api_and_plain_endpoints() {
    let (m, base, _dir) = master().await;
    let client = reqwest::Client::new();
    let v: Value = client
        .get(format!("{base}/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let version = v["version"].as_str().unwrap();
    assert!(
        version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "numeric X.Y.Z: {version}"
    );
    assert_eq!(
        client
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let v: Value = client
        .get(format!("{base}/metrics/snapshot"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["master/elected"], 1.0);
    let r = client.get(format!("{base}/redirect")).send().await.unwrap();
    // reqwest follows the redirect to the master itself, which serves the UI page.
    assert_eq!(r.status(), 200);
    for path in ["/api/v1", "/api/v1/operator"] {
        let r = client
            .post(format!("{base}{path}"))
            .header("Content-Type", "application/json")
            .body(r#"{"type":"GET_HEALTH"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["get_health"]["healthy"], true);
    }
    let r = client
        .post(format!("{base}/api/v1"))
        .header("Content-Type", "application/json")
        .body(r#"{"type":"GET_MASTER"}"#)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["get_master"]["master_info"]["id"], m.id.as_str());
    m.shutdown().await;
}

async fn operator(client: &reqwest::Client, base: &str, body: Value) -> (u16, String) {
    let r = client
        .post(format!("{base}/api/v1"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn weights_and_quota_are_validated_persisted_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = MasterFlags::defaults();
    flags.port = 0;
    flags.work_dir = dir.path().to_path_buf();
    let m = start(flags.clone()).await.unwrap();
    let base = format!("http://{}", m.addr);
    let client = reqwest::Client::new();

    let update = json!({"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "b", "weight": 3.0}]}});
    assert_eq!(operator(&client, &base, update).await.0, 200);
    let bad = json!({"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "b", "weight": -1.0}]}});
    let (status, body) = operator(&client, &base, bad).await;
    assert_eq!(status, 400, "{body}");
    let quota = json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "q", "guarantees": {"cpus": {"value": 2.0}}, "limits": {"cpus": {"value": 4.0}}}]}});
    assert_eq!(operator(&client, &base, quota).await.0, 200);
    let bad_quota = json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "q", "guarantees": {"cpus": {"value": 8.0}}, "limits": {"cpus": {"value": 4.0}}}]}});
    assert_eq!(operator(&client, &base, bad_quota).await.0, 400);
    let unknown_agent = json!({"type": "RESERVE_RESOURCES", "reserve_resources": {"agent_id": {"value": "nope"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
                       "reservations": [{"type": "DYNAMIC", "role": "q"}]}]}});
    assert_eq!(operator(&client, &base, unknown_agent).await.0, 400);
    m.shutdown().await;

    // A new master on the same work dir has the same policies.
    let m = start(flags).await.unwrap();
    let base = format!("http://{}", m.addr);
    let (status, body) = operator(&client, &base, json!({"type": "GET_WEIGHTS"})).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["get_weights"]["weight_infos"],
        json!([{"role": "b", "weight": 3.0}])
    );
    let w: Value = client
        .get(format!("{base}/weights"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(w, json!([{"role": "b", "weight": 3.0}]));
    let (_, body) = operator(&client, &base, json!({"type": "GET_QUOTA"})).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["get_quota"]["status"]["configs"][0]["role"], "q");
    assert_eq!(
        v["get_quota"]["status"]["configs"][0]["guarantees"]["cpus"]["value"],
        2.0
    );
    let roles: Value = client
        .get(format!("{base}/roles"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let q = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "q")
        .expect("role q listed");
    assert_eq!(q["quota"]["guarantee"]["cpus"], 2.0);
    let b = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "b")
        .expect("role b listed");
    assert_eq!(b["weight"], 3.0);
    m.shutdown().await;
}
