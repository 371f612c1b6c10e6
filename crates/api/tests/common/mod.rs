//! Builders of realistic, richly populated Mesos v1 values for the wire tests.
//!
//! Every builder fills as many fields as a real master, agent or framework would (and a few
//! more), so that a round trip exercises every JSON helper (enums, bytes, numbers, maps,
//! repeated fields) and every protobuf field number on the way.
//!
//! Split by concept: round-trip helpers here, builders in the submodules (all re-exported).

#![allow(dead_code, deprecated)]

use std::collections::BTreeMap;
use std::fmt::Debug;

use corral_api::v1;
use corral_api::v1::{executor, scheduler};
use prost::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

mod commands;
mod executor_msgs;
mod ids;
mod infos;
mod resources;
mod scheduler_msgs;
mod tasks;

// Not every test target uses every builder.
#[allow(unused_imports)]
pub use commands::*;
#[allow(unused_imports)]
pub use executor_msgs::*;
#[allow(unused_imports)]
pub use ids::*;
#[allow(unused_imports)]
pub use infos::*;
#[allow(unused_imports)]
pub use resources::*;
#[allow(unused_imports)]
pub use scheduler_msgs::*;
#[allow(unused_imports)]
pub use tasks::*;

// ---------------------------------------------------------------------------------------------
// Round-trip helpers
// ---------------------------------------------------------------------------------------------

/// JSON-encodes and decodes `value`; the error says which step failed and shows the JSON.
pub fn json_roundtrip<T: Serialize + DeserializeOwned>(value: &T) -> Result<T, String> {
    let text = serde_json::to_string(value).map_err(|e| format!("encode: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("decode: {e}\n  json: {text}"))
}

/// Protobuf-encodes and decodes `value`.
pub fn proto_roundtrip<T: Message + Default>(value: &T) -> Result<T, String> {
    T::decode(value.encode_to_vec().as_slice()).map_err(|e| format!("decode: {e}"))
}

/// Checks `value == decode(encode(value))` in both encodings; returns a description of every
/// mismatch (empty when both round trips are exact).
pub fn check_both<T>(label: &str, value: &T) -> Vec<String>
where
    T: Message + Default + Serialize + DeserializeOwned + PartialEq + Debug,
{
    let mut problems = Vec::new();
    match json_roundtrip(value) {
        Ok(back) if back == *value => {}
        Ok(back) => problems.push(format!(
            "{label}: JSON round trip changed the value\n  before: {value:?}\n  after:  {back:?}"
        )),
        Err(e) => problems.push(format!("{label}: JSON {e}")),
    }
    match proto_roundtrip(value) {
        Ok(back) if back == *value => {}
        Ok(back) => problems.push(format!(
            "{label}: protobuf round trip changed the value\n  before: {value:?}\n  after:  {back:?}"
        )),
        Err(e) => problems.push(format!("{label}: protobuf {e}")),
    }
    problems
}

/// Panics listing every problem, if any.
pub fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// `serde_json::Value` of `value`.
pub fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("serializes")
}
