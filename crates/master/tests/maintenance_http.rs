#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
//! Maintenance operator calls in protobuf over real loopback, and the schedule surviving a
//! master restart on the same work_dir.

use corral_api::v1;
use corral_api::v1::maintenance::{Schedule, Window};
use corral_api::v1::master::{call, response, Call, Response};
use corral_master::{start, MasterFlags};
use prost::Message;

const PROTOBUF: &str = "application/x-protobuf";

async fn post(client: &reqwest::Client, base: &str, call: &Call) -> (u16, Vec<u8>) {
    let resp = client
        .post(format!("{base}/api/v1"))
        .header("Content-Type", PROTOBUF)
        .header("Accept", PROTOBUF)
        .body(call.encode_to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

fn machine(host: &str) -> v1::MachineId {
    v1::MachineId {
        hostname: Some(host.into()),
        ip: Some("10.0.0.1".into()),
    }
}

#[tokio::test]
async fn protobuf_calls_validate_persist_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = MasterFlags::defaults();
    flags.port = 0;
    flags.work_dir = dir.path().to_path_buf();
    let client = reqwest::Client::new();
    let schedule = Schedule {
        windows: vec![Window {
            machine_ids: vec![machine("a"), machine("b")],
            unavailability: v1::Unavailability {
                start: v1::TimeInfo { nanoseconds: 1_000 },
                duration: None,
            },
        }],
    };
    let update = |schedule: Schedule| Call {
        r#type: Some(call::Type::UpdateMaintenanceSchedule as i32),
        update_maintenance_schedule: Some(call::UpdateMaintenanceSchedule { schedule }),
        ..Default::default()
    };
    let get_status = Call {
        r#type: Some(call::Type::GetMaintenanceStatus as i32),
        ..Default::default()
    };
    {
        let m = start(flags.clone()).await.unwrap();
        let base = format!("http://{}", m.addr);
        // A machine without hostname or ip: 400, nothing stored.
        let mut bad = schedule.clone();
        bad.windows[0].machine_ids.push(v1::MachineId::default());
        let (code, body) = post(&client, &base, &update(bad)).await;
        assert_eq!(code, 400, "{}", String::from_utf8_lossy(&body));
        let (code, _) = post(&client, &base, &update(schedule.clone())).await;
        assert_eq!(code, 200);
        let start_call = Call {
            r#type: Some(call::Type::StartMaintenance as i32),
            start_maintenance: Some(call::StartMaintenance {
                machines: vec![machine("b")],
            }),
            ..Default::default()
        };
        let (code, _) = post(&client, &base, &start_call).await;
        assert_eq!(code, 200);
        m.shutdown().await;
    }
    let m = start(flags).await.unwrap();
    let base = format!("http://{}", m.addr);
    let get_schedule = Call {
        r#type: Some(call::Type::GetMaintenanceSchedule as i32),
        ..Default::default()
    };
    let (code, body) = post(&client, &base, &get_schedule).await;
    assert_eq!(code, 200);
    let reply = Response::decode(body.as_slice()).unwrap();
    assert_eq!(
        reply.r#type,
        Some(response::Type::GetMaintenanceSchedule as i32)
    );
    assert_eq!(reply.get_maintenance_schedule.unwrap().schedule, schedule);
    let (code, body) = post(&client, &base, &get_status).await;
    assert_eq!(code, 200);
    let status = Response::decode(body.as_slice())
        .unwrap()
        .get_maintenance_status
        .unwrap()
        .status;
    assert_eq!(status.down_machines, vec![machine("b")]);
    assert_eq!(status.draining_machines.len(), 1);
    assert_eq!(status.draining_machines[0].id, machine("a"));
    m.shutdown().await;
}
