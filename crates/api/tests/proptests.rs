//! Property tests: arbitrary TaskStatus and Resource values (ids, enum values taken from the
//! enums' declared values, optional fields present or not) survive both encodings exactly.
//!
//! Doubles are drawn the way Mesos produces them: scalars with three decimals (fixed point) and
//! timestamps with microsecond precision. Arbitrary doubles lose their last bit through JSON;
//! see the ignored property at the end and `mesos_json::doubles_keep_full_precision`.

#![allow(deprecated)] // Resource.role and Resource.reservation are deprecated but still on the wire.

mod common;

use common::{check_both, json_roundtrip};
use corral_api::enums::{
    Emesos_v1_CheckInfo_Type, Emesos_v1_NetworkInfo_Protocol,
    Emesos_v1_Resource_DiskInfo_Source_Type, Emesos_v1_Resource_ReservationInfo_Type,
    Emesos_v1_TaskState, Emesos_v1_TaskStatus_Reason, Emesos_v1_TaskStatus_Source,
    Emesos_v1_Volume_Mode,
};
use corral_api::json::EnumNames;
use corral_api::v1;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// One of the numbers the enum `M` declares.
fn enum_value<M: EnumNames>() -> impl Strategy<Value = i32> {
    prop::sample::select(M::VALUES.iter().map(|(_, n)| *n).collect::<Vec<i32>>())
}

/// Ids: mostly Mesos-like, sometimes arbitrary text (control characters, quotes, non-ASCII).
fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[A-Za-z0-9][A-Za-z0-9._:-]{0,40}", 1 => ".{0,12}"]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,30}", ".{0,20}"]
}

/// A scalar as Mesos keeps it: fixed point with three decimals.
fn fixed_point() -> impl Strategy<Value = f64> {
    (0i64..1_000_000_000_000).prop_map(|milli| milli as f64 / 1000.0)
}

/// Seconds since the epoch with microsecond precision (up to year ~2096).
fn timestamp() -> impl Strategy<Value = f64> {
    (0i64..4_000_000_000_000_000).prop_map(|micros| micros as f64 / 1e6)
}

fn labels() -> impl Strategy<Value = v1::Labels> {
    vec((text(), option::of(text())), 0..4).prop_map(|pairs| v1::Labels {
        labels: pairs
            .into_iter()
            .map(|(key, value)| v1::Label { key, value })
            .collect(),
    })
}

fn reservation() -> impl Strategy<Value = v1::resource::ReservationInfo> {
    (
        option::of(enum_value::<Emesos_v1_Resource_ReservationInfo_Type>()),
        option::of(id_text()),
        option::of(id_text()),
        option::of(labels()),
    )
        .prop_map(
            |(r#type, role, principal, labels)| v1::resource::ReservationInfo {
                r#type,
                role,
                principal,
                labels,
            },
        )
}

fn disk() -> impl Strategy<Value = v1::resource::DiskInfo> {
    (
        option::of((id_text(), option::of(id_text()))),
        option::of((enum_value::<Emesos_v1_Volume_Mode>(), text())),
        option::of((
            enum_value::<Emesos_v1_Resource_DiskInfo_Source_Type>(),
            option::of(text()),
            option::of(text()),
        )),
    )
        .prop_map(|(persistence, volume, source)| v1::resource::DiskInfo {
            persistence: persistence
                .map(|(id, principal)| v1::resource::disk_info::Persistence { id, principal }),
            volume: volume.map(|(mode, container_path)| v1::Volume {
                mode,
                container_path,
                ..Default::default()
            }),
            source: source.map(|(r#type, root, profile)| v1::resource::disk_info::Source {
                r#type,
                mount: root.map(|r| v1::resource::disk_info::source::Mount { root: Some(r) }),
                profile,
                ..Default::default()
            }),
        })
}

/// The value part of a resource: SCALAR, RANGES or SET, with the matching field set.
fn resource_value() -> impl Strategy<
    Value = (
        i32,
        Option<v1::value::Scalar>,
        Option<v1::value::Ranges>,
        Option<v1::value::Set>,
    ),
> {
    prop_oneof![
        fixed_point().prop_map(|value| (0, Some(v1::value::Scalar { value }), None, None)),
        vec((any::<u64>(), any::<u64>()), 0..5).prop_map(|bounds| {
            let range = bounds
                .into_iter()
                .map(|(begin, end)| v1::value::Range { begin, end })
                .collect();
            (1, None, Some(v1::value::Ranges { range }), None)
        }),
        vec(text(), 0..5).prop_map(|item| (2, None, None, Some(v1::value::Set { item }))),
    ]
}

fn resource() -> impl Strategy<Value = v1::Resource> {
    (
        prop_oneof![
            Just("cpus".to_string()),
            Just("mem".to_string()),
            Just("disk".to_string()),
            Just("ports".to_string()),
            id_text()
        ],
        resource_value(),
        option::of(id_text()),
        option::of(option::of(id_text())),
        option::of(reservation()),
        vec(reservation(), 0..3),
        option::of(disk()),
        (any::<bool>(), any::<bool>(), option::of(id_text())),
    )
        .prop_map(
            |(
                name,
                (r#type, scalar, ranges, set),
                role,
                allocation,
                reservation,
                reservations,
                disk,
                (revocable, shared, provider),
            )| {
                v1::Resource {
                    provider_id: provider.map(|value| v1::ResourceProviderId { value }),
                    name,
                    r#type,
                    scalar,
                    ranges,
                    set,
                    role,
                    allocation_info: allocation.map(|role| v1::resource::AllocationInfo { role }),
                    reservation,
                    reservations,
                    disk,
                    revocable: revocable.then_some(v1::resource::RevocableInfo {}),
                    shared: shared.then_some(v1::resource::SharedInfo {}),
                }
            },
        )
}

fn container_status() -> impl Strategy<Value = v1::ContainerStatus> {
    (
        option::of((id_text(), option::of(id_text()))),
        vec(
            (
                option::of(enum_value::<Emesos_v1_NetworkInfo_Protocol>()),
                option::of("[0-9.:a-f]{3,39}"),
            ),
            0..3,
        ),
        option::of(any::<u32>()),
        option::of(any::<u32>()),
    )
        .prop_map(
            |(id, addresses, classid, executor_pid)| v1::ContainerStatus {
                container_id: id.map(|(value, parent)| v1::ContainerId {
                    value,
                    parent: parent.map(|value| {
                        Box::new(v1::ContainerId {
                            value,
                            parent: None,
                        })
                    }),
                }),
                network_infos: if addresses.is_empty() {
                    vec![]
                } else {
                    vec![v1::NetworkInfo {
                        ip_addresses: addresses
                            .into_iter()
                            .map(|(protocol, ip_address)| v1::network_info::IpAddress {
                                protocol,
                                ip_address,
                            })
                            .collect(),
                        ..Default::default()
                    }]
                },
                cgroup_info: classid.map(|c| v1::CgroupInfo {
                    net_cls: Some(v1::cgroup_info::NetCls { classid: Some(c) }),
                }),
                executor_pid,
            },
        )
}

fn check_status() -> impl Strategy<Value = v1::CheckStatusInfo> {
    (
        option::of(enum_value::<Emesos_v1_CheckInfo_Type>()),
        option::of(option::of(any::<i32>())),
        option::of(option::of(any::<u32>())),
        option::of(option::of(any::<bool>())),
    )
        .prop_map(|(r#type, command, http, tcp)| v1::CheckStatusInfo {
            r#type,
            command: command.map(|exit_code| v1::check_status_info::Command { exit_code }),
            http: http.map(|status_code| v1::check_status_info::Http { status_code }),
            tcp: tcp.map(|succeeded| v1::check_status_info::Tcp { succeeded }),
        })
}

fn task_status_with(timestamps: BoxedStrategy<f64>) -> impl Strategy<Value = v1::TaskStatus> {
    (
        (
            id_text(),
            enum_value::<Emesos_v1_TaskState>(),
            option::of(text()),
            option::of(enum_value::<Emesos_v1_TaskStatus_Source>()),
            option::of(enum_value::<Emesos_v1_TaskStatus_Reason>()),
            option::of(vec(any::<u8>(), 0..48)),
            option::of(id_text()),
            option::of(id_text()),
        ),
        (
            option::of(timestamps),
            option::of(any::<[u8; 16]>()),
            option::of(any::<bool>()),
            option::of(check_status()),
            option::of(labels()),
            option::of(container_status()),
            option::of(any::<i64>()),
            option::of(vec(resource(), 0..3)),
        ),
    )
        .prop_map(
            |(
                (task_id, state, message, source, reason, data, agent_id, executor_id),
                (
                    timestamp,
                    uuid,
                    healthy,
                    check_status,
                    labels,
                    container_status,
                    unreachable,
                    limitation,
                ),
            )| v1::TaskStatus {
                task_id: v1::TaskId { value: task_id },
                state,
                message,
                source,
                reason,
                data,
                agent_id: agent_id.map(|value| v1::AgentId { value }),
                executor_id: executor_id.map(|value| v1::ExecutorId { value }),
                timestamp,
                uuid: uuid.map(|u| u.to_vec()),
                healthy,
                check_status,
                labels,
                container_status,
                unreachable_time: unreachable.map(|nanoseconds| v1::TimeInfo { nanoseconds }),
                limitation: limitation.map(|resources| v1::TaskResourceLimitation { resources }),
            },
        )
}

fn task_status() -> impl Strategy<Value = v1::TaskStatus> {
    task_status_with(timestamp().boxed())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn task_status_roundtrips(status in task_status()) {
        let problems = check_both("TaskStatus", &status);
        prop_assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn resource_roundtrips(resource in resource()) {
        let problems = check_both("Resource", &resource);
        prop_assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    /// Inside an UPDATE event, with the status's enums written by name.
    #[test]
    fn update_event_roundtrips(status in task_status()) {
        let event = v1::scheduler::Event {
            r#type: Some(v1::scheduler::event::Type::Update as i32),
            update: Some(v1::scheduler::event::Update { status: status.clone() }),
            ..Default::default()
        };
        let problems = check_both("Event", &event);
        prop_assert!(problems.is_empty(), "{}", problems.join("\n"));
        let json = serde_json::to_value(&event).expect("serializes");
        let state = Emesos_v1_TaskState::name_of(status.state).expect("declared state");
        prop_assert_eq!(&json["update"]["status"]["state"], state);
    }

    /// An offer's resource list, as OFFERS events carry it.
    #[test]
    fn resource_lists_roundtrip(resources in vec(resource(), 0..8)) {
        let offers = v1::scheduler::event::Offers {
            offers: vec![v1::Offer { resources, ..common::offer(1) }],
        };
        let problems = check_both("Offers", &offers);
        prop_assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Any finite timestamp, not just clock-like ones.
    #[test]
    fn task_status_with_any_finite_timestamp_roundtrips_json(
        status in task_status_with(
            prop_oneof![proptest::num::f64::NORMAL, proptest::num::f64::SUBNORMAL, 1.0e9f64..2.0e9].boxed()
        )
    ) {
        let back = json_roundtrip(&status).map_err(TestCaseError::fail)?;
        prop_assert_eq!(back, status);
    }
}
