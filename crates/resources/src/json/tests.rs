use serde_json::json;

use super::*;
use crate::parse::parse_resources;
use crate::scalar::Scalar;

fn from_json(value: Json) -> Result<Vec<Resource>, ParseError> {
    resources_from_json(&value, "*")
}

fn err(value: Json) -> String {
    match from_json(value) {
        Ok(r) => panic!("parsed as {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn flag_accepts_json_array() {
    let text = r#"[
        {"name":"cpus","type":"SCALAR","scalar":{"value":2}},
        {"name":"mem","type":"SCALAR","scalar":{"value":"1024.5"},"role":"prod"},
        {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31005},{"begin":"31010","end":31020}]}},
        {"name":"disks","type":"SET","set":{"item":["sda","sdb"]}},
        {"name":"gpus","type":"SCALAR","scalar":{"value":1},
         "reservations":[{"type":"STATIC","role":"ml"}], "unknown_key": 5}
    ]"#;
    let r = parse_resources(text);
    assert_eq!(
        r.map(|r| r.to_string()),
        Ok(
            "cpus:2; mem(prod):1024.5; ports:[31000-31005, 31010-31020]; disks:{sda, sdb}; \
            gpus(ml):1"
                .to_string()
        )
    );
}

#[test]
fn legacy_and_refined_reservations() {
    let out = from_json(json!([
        {"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"web",
         "reservation":{"principal":"ops","labels":{"labels":[{"key":"k","value":"v"}]}}},
        {"name":"cpus","type":"SCALAR","scalar":{"value":1},
         "reservations":[{"type":"STATIC","role":"a"},{"type":"DYNAMIC","role":"a/b","principal":"p"}],
         "allocation_info":{"role":"a/b/c"}},
        {"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"x",
         "reservations":[{"type":"DYNAMIC","role":"x"}]},
    ]))
    .unwrap_or_default();
    assert_eq!(out.len(), 3);
    assert_eq!(
        out[0].reservations,
        vec![Reservation {
            kind: ReservationType::Dynamic,
            role: "web".into(),
            principal: Some("ops".into()),
            labels: vec![("k".into(), "v".into())],
        }]
    );
    assert_eq!(out[1].reservations.len(), 2);
    assert_eq!(out[1].allocation_role.as_deref(), Some("a/b/c"));
    assert_eq!(out[2].role(), "x");
}

#[test]
fn default_role_applies_only_without_role() {
    let out = resources_from_json(
        &json!([
            {"name":"cpus","type":"SCALAR","scalar":{"value":1}},
            {"name":"mem","type":"SCALAR","scalar":{"value":1},"role":"*"},
        ]),
        "dev",
    )
    .unwrap_or_default();
    assert_eq!(out[0].role(), "dev");
    assert!(out[0].is_statically_reserved());
    assert!(out[1].is_unreserved());
}

#[test]
fn markers_round_trip() {
    let original = json!([{
        "name":"disk","type":"SCALAR","scalar":{"value":10.0},
        "reservations":[{"type":"DYNAMIC","role":"db","principal":"ops",
                         "labels":{"labels":[{"key":"a","value":"b"}]}}],
        "allocation_info":{"role":"db"},
        "disk":{"persistence":{"id":"v1","principal":"ops"},
                "volume":{"container_path":"data","mode":"RW"},
                "source":{"type":"MOUNT","mount":{"root":"/mnt/d"},"id":"x","profile":"fast"}},
        "shared":{},
        "provider_id":{"value":"rp1"}
    }, {
        "name":"cpus","type":"SCALAR","scalar":{"value":0.5},"revocable":{}
    }]);
    let parsed = from_json(original.clone()).unwrap_or_default();
    assert_eq!(parsed.len(), 2);
    assert!(parsed[0].shared && parsed[0].is_persistent_volume());
    assert!(parsed[1].revocable);
    let resources: Resources = parsed.into_iter().collect();
    assert_eq!(resources_to_json(&resources), original);
}

#[test]
fn single_object_for_repeated_field_and_nulls() {
    let out = from_json(json!([
        {"name":"ports","type":"RANGES","ranges":{"range":{"begin":1,"end":2}},"role":null},
        {"name":"disks","type":"SET","set":{"item":"a"}},
        {"name":"none","type":"RANGES"},
    ]))
    .unwrap_or_default();
    assert_eq!(
        out[0].as_ranges().map(|r| r.to_string()).as_deref(),
        Some("[1-2]")
    );
    assert_eq!(out[1].as_set().map(|s| s.len()), Some(1));
    assert!(out[2].is_empty());
}

#[test]
fn errors_name_the_resource() {
    assert_eq!(
        err(json!({"name":"cpus"})),
        "invalid JSON resources: expected a JSON array of resources"
    );
    assert_eq!(
        err(json!([5])),
        "invalid token 'resources[0] ()': expected a JSON object"
    );
    assert_eq!(
        err(json!([{"type":"SCALAR","scalar":{"value":1}}])),
        "invalid token 'resources[0] ()': missing 'name'"
    );
    assert_eq!(
        err(json!([{"name":"cpus","type":"TEXT"}])),
        "invalid token 'resources[0] (cpus)': unsupported resource type 'TEXT'"
    );
    assert_eq!(
        err(json!([{"name":"cpus","type":"SCALAR"}])),
        "invalid token 'resources[0] (cpus)': missing 'scalar'"
    );
    assert_eq!(
        err(json!([{"name":"cpus","type":"SCALAR","scalar":{"value":1},"set":{"item":["a"]}}])),
        "invalid token 'resources[0] (cpus)': 'set' is set on a SCALAR resource"
    );
    assert_eq!(
        err(json!([{"name":"cpus","type":"SCALAR","scalar":{"value":"-Infinity"}}])),
        "invalid token 'resources[0] (cpus)': resource 'cpus': scalar value -inf is NaN or infinite"
    );
    assert_eq!(
        err(
            json!([{"name":"p","type":"RANGES","ranges":{"range":[{"begin":1,"end":5},{"begin":5,"end":6}]}}])
        ),
        "invalid token 'resources[0] (p)': resource 'p': ranges 1-5 and 5-6 overlap"
    );
    assert_eq!(
        err(json!([{"name":"p","type":"RANGES","ranges":{"range":[{"begin":-1,"end":5}]}}])),
        "invalid token 'resources[0] (p)': each range needs unsigned integers 'begin' and 'end'"
    );
    assert_eq!(
        err(json!([{"name":"s","type":"SET","set":{"item":["a","a"]}}])),
        "invalid token 'resources[0] (s)': resource 's': set item 'a' appears more than once"
    );
    assert_eq!(
        err(json!([{"name":"c","type":"SCALAR","scalar":{"value":1},"role":"*","reservation":{}}])),
        "invalid token 'resources[0] (c)': resource 'c': role '*' cannot be reserved"
    );
    assert_eq!(
        err(json!([{"name":"c","type":"SCALAR","scalar":{"value":1},
                    "reservations":[{"type":"DYNAMIC","role":"a"},{"type":"DYNAMIC","role":"b"}]}])),
        "invalid token 'resources[0] (c)': resource 'c': reservation role 'b' is not a refinement of 'a'"
    );
    assert_eq!(
        err(
            json!([{"name":"c","type":"SCALAR","scalar":{"value":1},"role":"y",
                    "reservations":[{"type":"DYNAMIC","role":"x"}]}])
        ),
        "invalid token 'resources[0] (c)': 'role' 'y' does not match the roles in 'reservations'"
    );
    assert_eq!(
        err(json!([{"name":"c","type":"SCALAR","scalar":{"value":1},"role":"-x"}])),
        "invalid token 'resources[0] (c)': resource 'c': invalid role '-x': \
         a component cannot start with a dash"
    );
}

#[test]
fn flag_rejects_command_line_forbidden_resources() {
    let cases = [
        (
            r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"revocable":{}}]"#,
            "revocable resources cannot be specified on the command line",
        ),
        (
            r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"a"}]}]"#,
            "dynamic reservations cannot be specified on the command line",
        ),
        (
            r#"[{"name":"disk","type":"SCALAR","scalar":{"value":1},"disk":{"persistence":{"id":"v"}}}]"#,
            "persistent volumes cannot be specified on the command line",
        ),
    ];
    for (text, reason) in cases {
        match parse_resources(text) {
            Err(ParseError::NotAllowed { reason: r, .. }) => assert_eq!(r, reason),
            other => panic!("{text}: {other:?}"),
        }
    }
    assert!(matches!(
        parse_resources("[{"),
        Err(ParseError::Json { .. })
    ));
    let scalar = resource_to_json(&Resource::new_scalar("cpus", Scalar::from_millis(1500)));
    assert_eq!(
        scalar,
        json!({"name":"cpus","type":"SCALAR","scalar":{"value":1.5}})
    );
}
