//! Deviations found in the mapping (the `#[ignore]`d ones fail until fixed).

use super::clients::hello_task;
use super::*;

/// serde_json writes a non-finite f64 as `null`, so an infinite double (the reason Mesos
/// accepts `"Infinity"` at all: unlimited `TaskInfo.limits`, `failover_timeout`) does not come
/// back: a required double fails to decode and an optional one silently becomes unset.
#[test]
fn infinite_doubles_roundtrip() {
    let mut task = hello_task();
    task.limits.insert(
        "cpus".to_string(),
        v1::value::Scalar {
            value: f64::INFINITY,
        },
    );
    let text = encode(&task);
    assert!(!text.contains("null"), "encoded as {text}");
    let back: v1::TaskInfo = decode(&text);
    assert_eq!(back, task);

    let fw = v1::FrameworkInfo {
        failover_timeout: Some(f64::INFINITY),
        ..framework_info()
    };
    assert_eq!(decode::<v1::FrameworkInfo>(&encode(&fw)), fw);

    let f = filters(f64::NEG_INFINITY);
    assert_eq!(decode::<v1::Filters>(&encode(&f)), f);
}

/// stout's parser adds a lone value to a repeated field (every visitor does
/// `is_repeated() ? Add… : Set…`), and treats `null` as unset. Corral does that for repeated
/// messages, numbers, enums and bytes, but not for repeated strings (`roles`, `arguments`,
/// `suppressed_roles`, `Value.Set.item`, `NetworkInfo.groups`, ...), which are plain `Vec<String>`.
#[test]
fn repeated_strings_accept_a_single_value_and_null() {
    let fw: v1::FrameworkInfo = decode(r#"{"user":"u","name":"n","roles":"web"}"#);
    assert_eq!(fw.roles, vec!["web"]);
    let revive: scheduler::call::Revive = decode(r#"{"roles":"web"}"#);
    assert_eq!(revive.roles, vec!["web"]);
    let cmd: v1::CommandInfo = decode(r#"{"value":"ls","arguments":null}"#);
    assert!(cmd.arguments.is_empty());
    let set: v1::value::Set = decode(r#"{"item":null}"#);
    assert!(set.item.is_empty());
}

/// stout treats `null` as "unset", so `{"name": null}` for a required field is reported as
/// `Missing required fields: name`. Corral reports `invalid type: null, expected a string`,
/// which does not name the field.
#[test]
#[ignore = "bug: null for a required field gives an error that does not name the field"]
fn null_required_field_error_names_the_field() {
    let e = decode_err::<v1::FrameworkInfo>(r#"{"user":"alice","name":null}"#);
    assert_mentions(&e, &["name"]);
    let e = decode_err::<scheduler::Call>(
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":null}}"#,
    );
    assert_mentions(&e, &["framework_info"]);
    let e = decode_err::<v1::TaskStatus>(r#"{"task_id":{"value":"t"},"state":null}"#);
    assert_mentions(&e, &["state"]);
}

/// The SNMP statistics messages use CamelCase proto field names (`Forwarding`, `DefaultTTL`,
/// `ReasmOKs`, `InCsumErrors`, ...), which stout writes verbatim (`field->name()`). The
/// generated Rust fields are snake_case and serde uses those names (`default_ttl`,
/// `reasm_o_ks`), so `/monitor/statistics` and GET_CONTAINERS would emit the wrong keys.
#[test]
fn snmp_statistics_use_proto_field_names() {
    let stats = v1::SnmpStatistics {
        ip_stats: Some(v1::IpStatistics {
            forwarding: Some(1),
            default_ttl: Some(64),
            reasm_o_ks: Some(3),
            ..Default::default()
        }),
        icmp_stats: Some(v1::IcmpStatistics {
            in_csum_errors: Some(0),
            ..Default::default()
        }),
        tcp_stats: Some(v1::TcpStatistics {
            rto_algorithm: Some(1),
            curr_estab: Some(12),
            ..Default::default()
        }),
        udp_stats: Some(v1::UdpStatistics {
            in_datagrams: Some(100),
            ..Default::default()
        }),
    };
    assert_eq!(
        to_json(&stats),
        json!({
            "ip_stats": {"Forwarding": 1, "DefaultTTL": 64, "ReasmOKs": 3},
            "icmp_stats": {"InCsumErrors": 0},
            "tcp_stats": {"RtoAlgorithm": 1, "CurrEstab": 12},
            "udp_stats": {"InDatagrams": 100}
        })
    );
    let back: v1::IpStatistics = decode(r#"{"Forwarding":2,"DefaultTTL":128}"#);
    assert_eq!((back.forwarding, back.default_ttl), (Some(2), Some(128)));
}

/// stout writes a oneof member as a plain field of its message. Corral nests it under the
/// oneof's name (acknowledged in build.rs) *and* writes an enum member as its number. The
/// reference's shape for SUBSCRIBE's offer constraints (`selector: {attribute_name |
/// pseudoattribute_type}`) is therefore silently decoded as "no selector" — the constraint is
/// lost rather than rejected. Same for CSI volumes' `access_type` (`block` / `mount`).
#[test]
#[ignore = "bug: oneof members are nested under the oneof name, and oneof enums are written as numbers"]
fn oneof_members_are_plain_fields() {
    use scheduler::attribute_constraint::{selector, Selector};
    let by_name: Selector = decode(r#"{"attribute_name":"rack"}"#);
    assert_eq!(
        by_name.selector,
        Some(selector::Selector::AttributeName("rack".to_string()))
    );
    let pseudo = Selector {
        selector: Some(selector::Selector::PseudoattributeType(
            selector::PseudoattributeType::Hostname as i32,
        )),
    };
    assert_eq!(
        to_json(&pseudo),
        json!({"pseudoattribute_type": "HOSTNAME"})
    );

    let constraint: scheduler::AttributeConstraint = decode(
        r#"{"selector":{"attribute_name":"rack"},"predicate":{"text_equals":{"value":"r1"}}}"#,
    );
    assert!(constraint.selector.selector.is_some() && constraint.predicate.predicate.is_some());

    use v1::volume::source::csi_volume::{volume_capability as vc, VolumeCapability};
    let cap: VolumeCapability =
        decode(r#"{"mount":{"fs_type":"xfs"},"access_mode":{"mode":"SINGLE_NODE_WRITER"}}"#);
    assert!(matches!(cap.access_type, Some(vc::AccessType::Mount(_))));
}

/// serde_json is built without its `float_roundtrip` feature, so parsing a double may be off by
/// one ULP: `TaskStatus.timestamp` values such as `1545891613.9825165` (as a clock gives them)
/// change when a status goes through JSON. Found by the proptest in `proptests.rs`.
#[test]
fn doubles_keep_full_precision() {
    for ts in [
        1_545_891_613.982_516_5,
        22_336.235_597_251_998,
        2.479_882_001_121_174_2e-144,
        -1.5e-300,
    ] {
        let status = v1::TaskStatus {
            task_id: task_id("t"),
            state: 1,
            timestamp: Some(ts),
            ..Default::default()
        };
        let back: v1::TaskStatus = decode(&encode(&status));
        assert_eq!(
            back.timestamp.map(f64::to_bits),
            Some(ts.to_bits()),
            "{ts:e} came back as {:?}",
            back.timestamp
        );
    }
}

/// An integer field given as a float is accepted only if it is exactly representable, but the
/// range check compares against `i64::MAX as f64` (= 2^63), so `9.223372036854775807e18`
/// (= 2^63, out of range) saturates to i64::MAX instead of being rejected; same for u64 and 2^64.
#[test]
#[ignore = "bug: an out-of-range float for a 64-bit integer field saturates instead of failing"]
fn out_of_range_float_for_64_bit_integer_is_an_error() {
    decode_err::<v1::DurationInfo>(r#"{"nanoseconds":9.223372036854775807e18}"#);
    decode_err::<v1::value::Range>(r#"{"begin":0,"end":1.8446744073709552e19}"#);
}
