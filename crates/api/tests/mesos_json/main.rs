//! Mesos's JSON mapping (stout `jsonify` / `protobuf::parse`), checked against the example
//! JSON of the fact sheet (`mesos-v1-api.md` §0, §1.3-§1.5, §2, §7) and the clients' quirks.
//!
//! Tests marked `#[ignore = "bug: ..."]` document a deviation found in the mapping; they fail
//! today and should pass once it is fixed.
//!
//! One test target, split by concept into modules; the builders are shared with the other
//! wire tests through `tests/common`.

#[path = "../common/mod.rs"]
mod common;

mod calls_events;
mod clients;
mod deviations;
mod encoding;
mod input;
mod messages;

use std::fmt::Debug;

use common::*;
use corral_api::v1;
use corral_api::v1::{executor, scheduler};
use serde::de::DeserializeOwned;
use serde_json::json;

fn decode<T: DeserializeOwned>(text: &str) -> T {
    match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => panic!(
            "failed to decode {}: {e}\n  json: {text}",
            std::any::type_name::<T>()
        ),
    }
}

/// The error message of decoding `text`, which must fail.
fn decode_err<T: DeserializeOwned + Debug>(text: &str) -> String {
    match serde_json::from_str::<T>(text) {
        Ok(v) => panic!("decoding unexpectedly succeeded: {v:?}\n  json: {text}"),
        Err(e) => e.to_string(),
    }
}

fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("encodes")
}

fn assert_mentions(error: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            error.contains(needle),
            "error {error:?} does not mention {needle:?}"
        );
    }
}
