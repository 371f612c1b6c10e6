//! Golden JSON of the key messages (§1.5): infos, offers, resources, tasks, statuses, operations.

use super::*;

#[test]
fn framework_info_example() {
    let text = r#"{"user":"alice", "name":"fw", "id":{"value":"7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c-0000"},
        "failover_timeout":604800.0, "checkpoint":true, "role":"*", "roles":["a","b"], "hostname":"h",
        "principal":"p", "webui_url":"http://h:8080/", "capabilities":[{"type":"MULTI_ROLE"}],
        "labels":{"labels":[{"key":"k","value":"v"}]},
        "offer_filters":{"role":{"min_allocatable_resources":{"quantities":[{"quantities":{"cpus":{"value":1}}}]}}}}"#;
    let info: v1::FrameworkInfo = decode(text);
    assert_eq!(info.failover_timeout, Some(604_800.0));
    assert_eq!(info.checkpoint, Some(true));
    assert_eq!(info.roles, vec!["a", "b"]);
    assert_eq!(
        info.capabilities,
        vec![capability(v1::framework_info::capability::Type::MultiRole)]
    );
    assert_eq!(info.labels, Some(labels(&[("k", Some("v"))])));
    let quantities = &info.offer_filters["role"]
        .min_allocatable_resources
        .as_ref()
        .expect("set")
        .quantities;
    assert_eq!(quantities[0].quantities["cpus"].value, 1.0);

    // Written back with the same names, the capability as its name.
    let out = to_json(&info);
    assert_eq!(out["capabilities"], json!([{"type": "MULTI_ROLE"}]));
    assert_eq!(
        out["offer_filters"]["role"]["min_allocatable_resources"]["quantities"][0]["quantities"]
            ["cpus"]["value"],
        1.0
    );
    assert_eq!(out["webui_url"], "http://h:8080/");
}

#[test]
fn every_framework_capability_name_decodes() {
    use v1::framework_info::capability::Type as C;
    let names = [
        ("REVOCABLE_RESOURCES", C::RevocableResources),
        ("TASK_KILLING_STATE", C::TaskKillingState),
        ("GPU_RESOURCES", C::GpuResources),
        ("SHARED_RESOURCES", C::SharedResources),
        ("PARTITION_AWARE", C::PartitionAware),
        ("MULTI_ROLE", C::MultiRole),
        ("RESERVATION_REFINEMENT", C::ReservationRefinement),
        ("REGION_AWARE", C::RegionAware),
    ];
    for (name, t) in names {
        let c: v1::framework_info::Capability = decode(&format!(r#"{{"type":"{name}"}}"#));
        assert_eq!(c.r#type(), t, "{name}");
        assert_eq!(encode(&c), format!(r#"{{"type":"{name}"}}"#));
    }
}

#[test]
fn master_info_example() {
    let text = r#"{"id":"7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c", "ip":16777343, "port":5050,
        "pid":"master@127.0.0.1:5050", "hostname":"h", "version":"1.11.0",
        "address":{"hostname":"h","ip":"127.0.0.1","port":5050},
        "domain":{"fault_domain":{"region":{"name":"eu-west"},"zone":{"name":"eu-west-1b"}}},
        "capabilities":[{"type":"AGENT_UPDATE"},{"type":"AGENT_DRAINING"},{"type":"QUOTA_V2"}]}"#;
    let info: v1::MasterInfo = decode(text);
    assert_eq!(info.ip, 16_777_343, "127.0.0.1 in network byte order");
    assert_eq!(info.port, 5050);
    assert_eq!(
        info.address.as_ref().expect("address").ip.as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(info.domain, Some(domain()));
    assert_eq!(info.capabilities, master_info().capabilities);
    assert_eq!(to_json(&info)["capabilities"][2]["type"], "QUOTA_V2");
}

#[test]
fn offer_example() {
    let text = r#"{"id":{"value":"M-O7"}, "framework_id":{"value":"M-0000"}, "agent_id":{"value":"M-S0"},
        "hostname":"agent1",
        "url":{"scheme":"http","address":{"hostname":"agent1","ip":"10.0.0.5","port":5051},"path":"/slave(1)"},
        "domain":{"fault_domain":{"region":{"name":"eu-west"},"zone":{"name":"eu-west-1b"}}},
        "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1.5},"role":"*","allocation_info":{"role":"*"}}],
        "attributes":[{"name":"rack","type":"TEXT","text":{"value":"r1"}}],
        "executor_ids":[{"value":"e1"}],
        "unavailability":{"start":{"nanoseconds":1700000000000000000},"duration":{"nanoseconds":3600000000000}},
        "allocation_info":{"role":"*"}}"#;
    let offer: v1::Offer = decode(text);
    assert_eq!(offer.id.value, "M-O7");
    let url = offer.url.as_ref().expect("url");
    assert_eq!(
        (url.scheme.as_str(), url.address.port, url.path.as_deref()),
        ("http", 5051, Some("/slave(1)"))
    );
    assert_eq!(
        offer.resources[0].scalar,
        Some(v1::value::Scalar { value: 1.5 })
    );
    assert_eq!(offer.attributes[0].r#type(), v1::value::Type::Text);
    assert_eq!(offer.attributes[0].text.as_ref().expect("text").value, "r1");
    assert_eq!(offer.unavailability, Some(unavailability()));
    assert_eq!(
        offer
            .allocation_info
            .as_ref()
            .expect("allocation_info")
            .role
            .as_deref(),
        Some("*")
    );
    let out = to_json(&offer);
    assert_eq!(out["attributes"][0]["type"], "TEXT");
    assert_eq!(out["resources"][0]["type"], "SCALAR");
}

#[test]
fn attribute_types() {
    for (text, t) in [
        (
            r#"{"name":"a","type":"SCALAR","scalar":{"value":2.0}}"#,
            v1::value::Type::Scalar,
        ),
        (
            r#"{"name":"a","type":"RANGES","ranges":{"range":[{"begin":1,"end":2}]}}"#,
            v1::value::Type::Ranges,
        ),
        (
            r#"{"name":"a","type":"SET","set":{"item":["x"]}}"#,
            v1::value::Type::Set,
        ),
        (
            r#"{"name":"a","type":"TEXT","text":{"value":"x"}}"#,
            v1::value::Type::Text,
        ),
    ] {
        let a: v1::Attribute = decode(text);
        assert_eq!(a.r#type(), t);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(text).expect("json"),
            to_json(&a)
        );
    }
}

#[test]
fn resource_examples() {
    let cpus: v1::Resource = decode(
        r#"{"name":"cpus","type":"SCALAR","scalar":{"value":1.5},"role":"*","allocation_info":{"role":"web"}}"#,
    );
    assert_eq!(cpus.r#type(), v1::value::Type::Scalar);
    assert_eq!(cpus.scalar, Some(v1::value::Scalar { value: 1.5 }));
    assert_eq!(
        cpus.allocation_info.as_ref().expect("set").role.as_deref(),
        Some("web")
    );

    let ports: v1::Resource = decode(
        r#"{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]}}"#,
    );
    assert_eq!(ports, ranges("ports", &[(31000, 32000)]));

    let disks: v1::Resource =
        decode(r#"{"name":"disks","type":"SET","set":{"item":["sda","sdb"]}}"#);
    assert_eq!(disks, set("disks", &["sda", "sdb"]));

    // Refinement format, innermost last.
    let refined: v1::Resource = decode(
        r#"{"name":"cpus","type":"SCALAR","scalar":{"value":1},
            "reservations":[{"type":"STATIC","role":"web"},
                            {"type":"DYNAMIC","role":"web/sub","principal":"ops",
                             "labels":{"labels":[{"key":"owner","value":"team-a"},{"key":"flag"}]}}]}"#,
    );
    assert_eq!(refined, reserved(scalar("cpus", 1.0), "web"));
    assert_eq!(to_json(&refined)["reservations"][1]["type"], "DYNAMIC");

    // Pre-refinement format.
    let old: v1::Resource = decode(
        r#"{"name":"mem","type":"SCALAR","scalar":{"value":256},"role":"web","reservation":{"principal":"ops"}}"#,
    );
    #[allow(deprecated)]
    let role = old.role.clone();
    assert_eq!(role.as_deref(), Some("web"));
    assert_eq!(
        old.reservation.as_ref().expect("set").principal.as_deref(),
        Some("ops")
    );
}

#[test]
fn persistent_volume_example() {
    let text = r#"{"name":"disk","type":"SCALAR","scalar":{"value":2048},
        "disk":{"persistence":{"id":"v1","principal":"ops"},"volume":{"mode":"RW","container_path":"data"},
                "source":{"type":"MOUNT","mount":{"root":"/mnt/disk1"}}},
        "revocable":{}, "shared":{}, "provider_id":{"value":"rp1"}}"#;
    let r: v1::Resource = decode(text);
    let disk = r.disk.as_ref().expect("disk");
    assert_eq!(disk.persistence.as_ref().expect("persistence").id, "v1");
    assert_eq!(
        disk.volume.as_ref().expect("volume").mode(),
        v1::volume::Mode::Rw
    );
    assert_eq!(
        disk.source.as_ref().expect("source").r#type(),
        v1::resource::disk_info::source::Type::Mount
    );
    assert!(r.revocable.is_some() && r.shared.is_some());
    assert_eq!(r.provider_id.as_ref().expect("set").value, "rp1");

    let out = to_json(&r);
    assert_eq!(out["disk"]["volume"]["mode"], "RW");
    assert_eq!(out["disk"]["source"]["type"], "MOUNT");
    assert_eq!(
        out["revocable"],
        json!({}),
        "an empty marker message is written as {{}}"
    );
    assert_eq!(out["shared"], json!({}));
}

#[test]
fn task_info_example() {
    let text = r#"{"name":"t", "task_id":{"value":"t1"}, "agent_id":{"value":"M-S0"},
        "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5}}],
        "command":{"value":"echo hi"},
        "container":{"type":"MESOS","mesos":{"image":{"type":"DOCKER","docker":{"name":"alpine:3"}}}},
        "health_check":{"type":"TCP","tcp":{"port":31000}},
        "check":{"type":"HTTP","http":{"port":8080,"path":"/ready"}},
        "kill_policy":{"grace_period":{"nanoseconds":3000000000}},
        "data":"AAEC/v8=",
        "labels":{"labels":[{"key":"k","value":"v"}]},
        "discovery":{"visibility":"FRAMEWORK","name":"t"},
        "max_completion_time":{"nanoseconds":60000000000},
        "limits":{"cpus":{"value":"Infinity"},"mem":{"value":512.0}}}"#;
    let task: v1::TaskInfo = decode(text);
    assert_eq!(task.kill_policy, Some(kill_policy()));
    assert_eq!(task.data, Some(vec![0, 1, 2, 0xfe, 0xff]));
    assert_eq!(
        task.health_check.as_ref().expect("set").r#type(),
        v1::health_check::Type::Tcp
    );
    assert_eq!(
        task.check
            .as_ref()
            .expect("set")
            .http
            .as_ref()
            .expect("http")
            .port,
        8080
    );
    assert_eq!(
        task.discovery.as_ref().expect("set").visibility(),
        v1::discovery_info::Visibility::Framework
    );
    assert_eq!(task.max_completion_time, Some(duration_secs(60)));
    assert_eq!(task.limits["cpus"].value, f64::INFINITY);
    assert_eq!(task.limits["mem"].value, 512.0);
    let image = task
        .container
        .as_ref()
        .and_then(|c| c.mesos.as_ref())
        .and_then(|m| m.image.as_ref())
        .expect("image");
    assert_eq!(image.r#type(), v1::image::Type::Docker);
    assert_eq!(image.docker.as_ref().expect("docker").name, "alpine:3");

    let out = to_json(&task);
    assert_eq!(out["data"], "AAEC/v8=");
    assert_eq!(out["container"]["type"], "MESOS");
    assert_eq!(out["discovery"]["visibility"], "FRAMEWORK");
}

#[test]
fn command_info_example() {
    let text = r#"{"value":"echo hi", "shell":true, "arguments":["/bin/echo","hi"],
        "environment":{"variables":[{"name":"A","value":"b","type":"VALUE"}]},
        "uris":[{"value":"http://x/f.tgz","executable":false,"extract":true,"cache":false,"output_file":"f.tgz"}],
        "user":"nobody"}"#;
    let cmd: v1::CommandInfo = decode(text);
    assert!(cmd.shell());
    assert_eq!(cmd.arguments, vec!["/bin/echo", "hi"]);
    let var = &cmd.environment.as_ref().expect("set").variables[0];
    assert_eq!(
        (var.name.as_str(), var.value.as_deref(), var.r#type()),
        ("A", Some("b"), v1::environment::variable::Type::Value)
    );
    let uri = &cmd.uris[0];
    assert_eq!(
        (uri.executable, uri.extract, uri.cache),
        (Some(false), Some(true), Some(false))
    );
    assert_eq!(uri.output_file.as_deref(), Some("f.tgz"));
    assert_eq!(cmd.user.as_deref(), Some("nobody"));
    assert_eq!(
        to_json(&cmd)["environment"]["variables"][0]["type"],
        "VALUE"
    );
}

#[test]
fn executor_info_example() {
    let text = r#"{"executor_id":{"value":"e1"}, "framework_id":{"value":"f1"}, "type":"CUSTOM",
        "command":{"value":"./executor"}, "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}}],
        "name":"my executor", "data":"aGk=", "shutdown_grace_period":{"nanoseconds":5000000000},
        "labels":{"labels":[{"key":"k"}]}}"#;
    let info: v1::ExecutorInfo = decode(text);
    assert_eq!(info.r#type(), v1::executor_info::Type::Custom);
    assert_eq!(info.data, Some(b"hi".to_vec()));
    assert_eq!(info.shutdown_grace_period, Some(duration_secs(5)));
    let default: v1::ExecutorInfo = decode(r#"{"executor_id":{"value":"e2"},"type":"DEFAULT"}"#);
    assert_eq!(default.r#type(), v1::executor_info::Type::Default);
    assert_eq!(
        to_json(&default),
        json!({"type": "DEFAULT", "executor_id": {"value": "e2"}})
    );
}

#[test]
fn container_info_examples() {
    let mesos: v1::ContainerInfo = decode(
        r#"{"type":"MESOS","mesos":{"image":{"type":"DOCKER","docker":{"name":"alpine:3"}}},
            "volumes":[{"container_path":"/data","host_path":"/srv","mode":"RW"}],
            "network_infos":[{"name":"cni-net"}],"hostname":"h",
            "linux_info":{"share_pid_namespace":false,"effective_capabilities":{"capabilities":["NET_BIND_SERVICE","CHOWN"]}},
            "rlimit_info":{"rlimits":[{"type":"RLMT_NOFILE","hard":1024,"soft":512}]},
            "tty_info":{"window_size":{"rows":24,"columns":80}}}"#,
    );
    assert_eq!(mesos.r#type(), v1::container_info::Type::Mesos);
    assert_eq!(mesos.volumes[0].mode(), v1::volume::Mode::Rw);
    assert_eq!(mesos.volumes[0].host_path.as_deref(), Some("/srv"));
    assert_eq!(mesos.network_infos[0].name.as_deref(), Some("cni-net"));
    let caps = &mesos
        .linux_info
        .as_ref()
        .and_then(|l| l.effective_capabilities.as_ref())
        .expect("caps")
        .capabilities;
    assert_eq!(
        caps,
        &vec![
            v1::capability_info::Capability::NetBindService as i32,
            v1::capability_info::Capability::Chown as i32,
        ]
    );
    let out = to_json(&mesos);
    assert_eq!(
        out["linux_info"]["effective_capabilities"]["capabilities"],
        json!(["NET_BIND_SERVICE", "CHOWN"])
    );
    assert_eq!(out["rlimit_info"]["rlimits"][0]["type"], "RLMT_NOFILE");

    let docker: v1::ContainerInfo = decode(
        r#"{"type":"DOCKER","docker":{"image":"nginx","network":"BRIDGE",
            "port_mappings":[{"host_port":31000,"container_port":80,"protocol":"tcp"}],
            "privileged":false,"parameters":[{"key":"k","value":"v"}],"force_pull_image":false}}"#,
    );
    let d = docker.docker.as_ref().expect("docker");
    assert_eq!(
        d.network(),
        v1::container_info::docker_info::Network::Bridge
    );
    assert_eq!(
        (
            d.port_mappings[0].host_port,
            d.port_mappings[0].container_port
        ),
        (31000, 80)
    );
    assert_eq!(
        d.parameters[0],
        v1::Parameter {
            key: "k".to_string(),
            value: "v".to_string()
        }
    );
    assert_eq!(to_json(&docker)["docker"]["network"], "BRIDGE");

    // HOST is the default network.
    let host: v1::ContainerInfo = decode(r#"{"type":"DOCKER","docker":{"image":"nginx"}}"#);
    assert_eq!(
        host.docker.as_ref().expect("docker").network(),
        v1::container_info::docker_info::Network::Host
    );
}

#[test]
fn task_status_example() {
    let text = r#"{"task_id":{"value":"t1"}, "state":"TASK_FAILED", "message":"boom",
        "source":"SOURCE_AGENT", "reason":"REASON_CONTAINER_LIMITATION_MEMORY", "data":"AA==",
        "agent_id":{"value":"a1"}, "executor_id":{"value":"e1"}, "timestamp":1.7e9,
        "uuid":"ex7g5Uh8TG6VsY62GCHBng==", "healthy":false,
        "check_status":{"type":"HTTP","http":{"status_code":503}},
        "labels":{"labels":[{"key":"k","value":"v"}]},
        "container_status":{"container_id":{"value":"c1"},"network_infos":[{"ip_addresses":[{"ip_address":"10.0.0.5"}]}],"executor_pid":123},
        "unreachable_time":{"nanoseconds":1700000000000000000},
        "limitation":{"resources":[{"name":"mem","type":"SCALAR","scalar":{"value":512}}]}}"#;
    let status: v1::TaskStatus = decode(text);
    assert_eq!(status.state(), v1::TaskState::TaskFailed);
    assert_eq!(status.source(), v1::task_status::Source::Agent);
    assert_eq!(
        status.reason(),
        v1::task_status::Reason::ContainerLimitationMemory
    );
    assert_eq!(status.data, Some(vec![0]));
    assert_eq!(status.timestamp, Some(1.7e9));
    assert_eq!(status.healthy, Some(false));
    assert_eq!(
        status
            .check_status
            .as_ref()
            .and_then(|c| c.http.as_ref())
            .and_then(|h| h.status_code),
        Some(503)
    );
    assert_eq!(
        status.limitation.as_ref().expect("set").resources,
        vec![scalar("mem", 512.0)]
    );

    let out = to_json(&status);
    assert_eq!(out["state"], "TASK_FAILED");
    assert_eq!(out["source"], "SOURCE_AGENT");
    assert_eq!(out["reason"], "REASON_CONTAINER_LIMITATION_MEMORY");
    assert_eq!(out["check_status"]["type"], "HTTP");
    assert_eq!(out["uuid"], UUID_B64);
}

#[test]
fn every_task_state_source_and_reason_name_roundtrips() {
    use corral_api::enums::{
        Emesos_v1_TaskState, Emesos_v1_TaskStatus_Reason, Emesos_v1_TaskStatus_Source,
    };
    use corral_api::json::EnumNames;
    for (state, _) in Emesos_v1_TaskState::VALUES {
        for (source, _) in Emesos_v1_TaskStatus_Source::VALUES {
            let text =
                format!(r#"{{"task_id":{{"value":"t"}},"state":"{state}","source":"{source}"}}"#);
            let status: v1::TaskStatus = decode(&text);
            assert_eq!(encode(&status), text);
        }
    }
    for (reason, number) in Emesos_v1_TaskStatus_Reason::VALUES {
        let text =
            format!(r#"{{"task_id":{{"value":"t"}},"state":"TASK_LOST","reason":"{reason}"}}"#);
        let status: v1::TaskStatus = decode(&text);
        assert_eq!(status.reason, Some(*number));
        assert_eq!(encode(&status), text);
    }
    assert_eq!(Emesos_v1_TaskState::VALUES.len(), 14);
    assert_eq!(Emesos_v1_TaskStatus_Reason::VALUES.len(), 35);
}

#[test]
fn offer_operation_examples() {
    let ops = [
        (
            r#"{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"}}]}}"#,
            "LAUNCH",
        ),
        (
            r#"{"type":"LAUNCH_GROUP","launch_group":{"executor":{"executor_id":{"value":"e"},"type":"DEFAULT"},
             "task_group":{"tasks":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"}}]}}}"#,
            "LAUNCH_GROUP",
        ),
        (
            r#"{"type":"RESERVE","id":{"value":"op1"},"reserve":{"source":[{"name":"cpus","type":"SCALAR","scalar":{"value":1.0}}],
             "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1.0},"reservations":[{"type":"DYNAMIC","role":"web"}]}]}}"#,
            "RESERVE",
        ),
        (
            r#"{"type":"UNRESERVE","unreserve":{"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1.0}}]}}"#,
            "UNRESERVE",
        ),
        (
            r#"{"type":"CREATE","create":{"volumes":[{"name":"disk","type":"SCALAR","scalar":{"value":64.0},
             "disk":{"persistence":{"id":"v1"},"volume":{"mode":"RW","container_path":"data"}}}]}}"#,
            "CREATE",
        ),
        (
            r#"{"type":"DESTROY","destroy":{"volumes":[{"name":"disk","type":"SCALAR","scalar":{"value":64.0}}]}}"#,
            "DESTROY",
        ),
        (
            r#"{"type":"GROW_VOLUME","grow_volume":{"volume":{"name":"disk","type":"SCALAR","scalar":{"value":64.0}},
             "addition":{"name":"disk","type":"SCALAR","scalar":{"value":32.0}}}}"#,
            "GROW_VOLUME",
        ),
        (
            r#"{"type":"SHRINK_VOLUME","shrink_volume":{"volume":{"name":"disk","type":"SCALAR","scalar":{"value":64.0}},
             "subtract":{"value":32.0}}}"#,
            "SHRINK_VOLUME",
        ),
        (
            r#"{"type":"CREATE_DISK","create_disk":{"source":{"name":"disk","type":"SCALAR","scalar":{"value":64.0}},
             "target_type":"BLOCK","target_profile":"fast"}}"#,
            "CREATE_DISK",
        ),
        (
            r#"{"type":"DESTROY_DISK","destroy_disk":{"source":{"name":"disk","type":"SCALAR","scalar":{"value":64.0}}}}"#,
            "DESTROY_DISK",
        ),
    ];
    for (text, name) in ops {
        // Doubles are written with a decimal point, as Mesos does (`1.0`).
        let op: v1::offer::Operation = decode(text);
        let out = to_json(&op);
        assert_eq!(out["type"], name);
        // The payload key is the lowercase type name, and the JSON comes back the same.
        assert!(out.get(name.to_lowercase()).is_some(), "{name}: {out}");
        assert_eq!(
            out,
            serde_json::from_str::<serde_json::Value>(text).expect("json"),
            "{name}"
        );
    }
}

#[test]
fn filters_example() {
    let f: v1::Filters = decode(r#"{"refuse_seconds":5.0}"#);
    assert_eq!(f.refuse_seconds(), 5.0);
    let capped: v1::Filters = decode(r#"{"refuse_seconds":31536000}"#);
    assert_eq!(capped.refuse_seconds(), 31_536_000.0);
}
