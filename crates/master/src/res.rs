//! Resource rendering for the legacy JSON views.

use corral_resources::Resources;
use serde_json::Value;

/// Mesos's flat "Resources object" (`{"cpus":1,"mem":128,"ports":"[31000-31005]"}`).
pub(crate) fn flat(r: &Resources) -> Value {
    Value::Object(corral_resources::to_flat_json(r))
}
