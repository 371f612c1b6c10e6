use super::*;
use crate::error::ValidationError as V;

fn ok(text: &str) -> Resources {
    match parse_resources(text) {
        Ok(r) => r,
        Err(e) => panic!("{text}: {e}"),
    }
}

fn err(text: &str) -> String {
    match parse_resources(text) {
        Ok(r) => panic!("{text} parsed as {r}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn agent_flag_examples() {
    let r = ok("cpus:4;mem:8192;disk:10000;ports:[31000-32000]");
    assert_eq!(
        r.to_string(),
        "cpus:4; mem:8192; disk:10000; ports:[31000-32000]"
    );
    assert_eq!(r.cpus(), Scalar::from_units(4));
    let r = ok("cpus(prod):2; cpus:1");
    assert_eq!(r.reserved("prod").cpus(), Scalar::from_units(2));
    assert!(r
        .reserved("prod")
        .iter()
        .all(Resource::is_statically_reserved));
    let r = ok("disks:{a,b}; cassandra_slot:1; ports:[21000-24000,30000-34000]");
    assert_eq!(r.set("disks").len(), 2);
    assert_eq!(r.scalar("cassandra_slot"), Scalar::from_units(1));
    assert_eq!(r.ports().segments(), 2);
}

#[test]
fn whitespace_tolerant() {
    let r = ok("  cpus ( prod ) : 2 ;\n mem : 1.5 ; ports : [ 1 - 2 , 4 - 5 ] ; s : { a , b } ; ");
    assert_eq!(
        r.to_string(),
        "cpus(prod):2; mem:1.5; ports:[1-2, 4-5]; s:{a, b}"
    );
}

#[test]
fn mesos_text_quirks() {
    // Overlapping ranges in text are coalesced, repeated names add up,
    // zero and empty values disappear, `(*)` means unreserved, `[80]` is 80-80.
    assert_eq!(ok("ports:[1-5,3-8]").to_string(), "ports:[1-8]");
    assert_eq!(ok("cpus:1;cpus:2").to_string(), "cpus:3");
    assert_eq!(ok("cpus:0;ports:[];s:{}").to_string(), "{}");
    assert_eq!(ok("cpus(*):1").to_string(), "cpus:1");
    assert_eq!(ok("ports:[80]").to_string(), "ports:[80-80]");
    assert_eq!(ok("").to_string(), "{}");
    assert_eq!(ok("{}").to_string(), "{}");
    assert_eq!(ok("cpus:1e1").cpus(), Scalar::from_units(10));
}

#[test]
fn default_role() {
    let r = parse_resources_with_role("cpus:1;mem(*):2;disk(x):3", "dev");
    let r = r.unwrap_or_default();
    assert_eq!(r.to_string(), "cpus(dev):1; mem:2; disk(x):3");
    assert!(matches!(
        parse_resources_with_role("cpus:1", "a b"),
        Err(ParseError::DefaultRole(_))
    ));
}

#[test]
fn syntax_errors_name_the_token() {
    assert_eq!(
        err("cpus"),
        "invalid token 'cpus': missing ':' between name and value"
    );
    assert_eq!(err("cpus:1:2"), "invalid token 'cpus:1:2': extra ':'");
    assert_eq!(
        err("cpus(prod:1"),
        "invalid token 'cpus(prod:1': mismatched parentheses"
    );
    assert_eq!(
        err("cpusprod):1"),
        "invalid token 'cpusprod):1': mismatched parentheses"
    );
    assert_eq!(
        err("cpus(a)x:1"),
        "invalid token 'cpus(a)x:1': mismatched parentheses"
    );
    assert_eq!(
        err("cpus)(a):1"),
        "invalid token 'cpus)(a):1': mismatched parentheses"
    );
    assert_eq!(
        err("cpus((a)):1"),
        "invalid token 'cpus((a)):1': mismatched parentheses"
    );
    assert_eq!(err("cpus:"), "invalid token 'cpus:': value is empty");
    assert_eq!(
        err("cpus:four"),
        "invalid token 'cpus:four': expected a number, [ranges] or {set} as the value"
    );
    assert_eq!(
        err("ports:[1-2"),
        "invalid token 'ports:[1-2': mismatched brackets in ranges"
    );
    assert_eq!(
        err("ports:[a-2]"),
        "invalid token 'ports:[a-2]': expected a non-negative integer, found 'a'"
    );
    assert_eq!(
        err("ports:[-1-2]"),
        "invalid token 'ports:[-1-2]': expected a non-negative integer, found ''"
    );
    assert_eq!(
        err("s:{a}}"),
        "invalid token 's:{a}}': mismatched braces in set"
    );
    assert_eq!(err("x:1[2]"), "invalid token 'x:1[2]': unexpected bracket");
}

#[test]
fn validation_errors_name_the_token() {
    assert_eq!(err(":1"), "invalid token ':1': resource name is empty");
    assert_eq!(
        err("(a):1"),
        "invalid token '(a):1': resource name is empty"
    );
    assert_eq!(
        err("cpus:-1"),
        "invalid token 'cpus:-1': resource 'cpus': scalar value -1 is negative"
    );
    assert_eq!(
        err("cpus:nan"),
        "invalid token 'cpus:nan': resource 'cpus': scalar value NaN is NaN or infinite"
    );
    assert_eq!(
        err("cpus:inf"),
        "invalid token 'cpus:inf': resource 'cpus': scalar value inf is NaN or infinite"
    );
    assert_eq!(
        err("ports:[5-1]"),
        "invalid token 'ports:[5-1]': resource 'ports': range 5-1 has begin > end"
    );
    assert_eq!(
        err("s:{a,,b}"),
        "invalid token 's:{a,,b}': resource 's': set has an empty item"
    );
    assert_eq!(
        err("s:{a,a}"),
        "invalid token 's:{a,a}': resource 's': set item 'a' appears more than once"
    );
    assert_eq!(
        err("cpus(a b):1"),
        "invalid token 'cpus(a b):1': resource 'cpus': invalid role 'a b': \
         cannot contain whitespace or control characters"
    );
    assert_eq!(
        err("cpus():1"),
        "invalid token 'cpus():1': resource 'cpus': invalid role '': role names cannot be empty"
    );
    assert!(matches!(
        parse_resources("cpus:0.0001"),
        Err(ParseError::Invalid {
            error: V::ScalarTooSmall { .. },
            ..
        })
    ));
    assert_eq!(
        err("cpus:1;cpus:[1-2]"),
        "resource 'cpus' is given both as SCALAR and as RANGES"
    );
}

#[test]
fn raw_values() {
    assert_eq!(
        parse_raw_value(" 2.5 "),
        Ok(RawValue::Number("2.5".into(), 2.5))
    );
    assert_eq!(
        parse_raw_value("[1-2, 3]"),
        Ok(RawValue::Ranges(vec![(1, 2), (3, 3)]))
    );
    assert_eq!(
        parse_raw_value("{ b , a }"),
        Ok(RawValue::Set(vec!["b".into(), "a".into()]))
    );
    assert_eq!(parse_raw_value("r1"), Ok(RawValue::Text("r1".into())));
    assert!(parse_raw_value("[1-2,]").is_err());
    assert!(parse_raw_value("  ").is_err());
}
