//! The flat "Resources object" of Mesos's legacy JSON endpoints (`/state`, `/slaves`, …).

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value as Json};

use crate::resources::Resources;
use crate::value::ValueType;

/// `{"cpus": 4.0, "gpus": 0, "mem": 1024.0, "disk": 0, "ports": "[31000-32000]"}`.
///
/// Every resource name appears once with its total over reservations and
/// allocation roles: scalars as numbers, ranges as `"[a-b, c-d]"`, sets as
/// `"{a, b}"`. `cpus`, `gpus`, `mem` and `disk` are always present (`0` when
/// absent). Revocable resources are reported under `<name>_revocable`.
pub fn to_flat_json(resources: &Resources) -> Map<String, Json> {
    let mut out = Map::new();
    for name in ["cpus", "gpus", "mem", "disk"] {
        out.insert(name.to_string(), Json::from(0));
    }
    let non_revocable = resources.non_revocable();
    write_totals(&mut out, &non_revocable, "");
    let revocable = resources.revocable();
    write_totals(&mut out, &revocable, "_revocable");
    out
}

/// `{"<role>": {flat resources}, …}`, as used for `reserved_resources`.
pub fn to_flat_json_by_role(by_role: &BTreeMap<String, Resources>) -> Map<String, Json> {
    by_role
        .iter()
        .map(|(role, resources)| (role.clone(), Json::Object(to_flat_json(resources))))
        .collect()
}

fn write_totals(out: &mut Map<String, Json>, resources: &Resources, suffix: &str) {
    for (name, ty) in resources.types() {
        let value = match ty {
            ValueType::Scalar => {
                let total = resources.scalar(&name).as_f64();
                Number::from_f64(total).map_or(Json::Null, Json::Number)
            }
            ValueType::Ranges => Json::String(resources.ranges(&name).to_string()),
            ValueType::Set => Json::String(resources.set(&name).to_string()),
        };
        out.insert(format!("{name}{suffix}"), value);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::parse::parse_resources;
    use crate::resource::{Reservation, Resource};
    use crate::scalar::Scalar;

    #[test]
    fn empty_has_the_four_defaults() {
        let flat = Json::Object(to_flat_json(&Resources::new()));
        assert_eq!(flat, json!({"cpus": 0, "gpus": 0, "mem": 0, "disk": 0}));
    }

    #[test]
    fn totals_over_roles_and_revocable_suffix() {
        let mut resources = parse_resources(
            "cpus:2;cpus(web):1.5;mem:1024;ports:[31000-31005];ports(web):[31010-31020];disks:{b,a}",
        )
        .unwrap_or_default();
        resources.add(Resource::new_scalar("cpus", Scalar::from_units(3)).with_revocable());
        resources.add(
            Resource::new_scalar("mem", Scalar::from_units(8))
                .with_reservation(Reservation::new_dynamic("web", None))
                .with_allocation("web"),
        );
        let flat = Json::Object(to_flat_json(&resources));
        assert_eq!(
            flat,
            json!({
                "cpus": 3.5, "gpus": 0, "mem": 1032.0, "disk": 0,
                "ports": "[31000-31005, 31010-31020]",
                "disks": "{a, b}",
                "cpus_revocable": 3.0,
            })
        );
    }

    #[test]
    fn by_role() {
        let resources = parse_resources("cpus(a):1;mem(b):2;cpus:4").unwrap_or_default();
        let flat = Json::Object(to_flat_json_by_role(&resources.reservations()));
        assert_eq!(
            flat,
            json!({
                "a": {"cpus": 1.0, "gpus": 0, "mem": 0, "disk": 0},
                "b": {"cpus": 0, "gpus": 0, "mem": 2.0, "disk": 0},
            })
        );
    }
}
