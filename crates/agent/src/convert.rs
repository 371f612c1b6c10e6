//! Conversions between `corral_resources` values and the v1 wire types (thin wrappers over
//! `Resources::{from_proto, to_proto}` and `Attributes::to_proto`).

use corral_api::v1;
use corral_resources::{Attributes, Resources};

/// The resources as v1 `Resource` messages.
pub fn resources_to_proto(resources: &Resources) -> Vec<v1::Resource> {
    resources.to_proto()
}

/// v1 `Resource` messages as a resource collection; an error names what is invalid.
pub fn resources_from_proto(resources: &[v1::Resource]) -> Result<Resources, String> {
    Resources::from_proto(resources).map_err(|e| e.to_string())
}

/// Sums several resource lists (e.g. the resources of an executor and its tasks); invalid
/// entries are skipped.
pub fn sum_resources<'a>(lists: impl IntoIterator<Item = &'a [v1::Resource]>) -> Resources {
    let mut total = Resources::new();
    for list in lists {
        match Resources::from_proto(list) {
            Ok(r) => total.add_all(&r),
            Err(error) => tracing::debug!(%error, "skipping invalid resources"),
        }
    }
    total
}

/// The attributes as v1 `Attribute` messages.
pub fn attributes_to_proto(attributes: &Attributes) -> Vec<v1::Attribute> {
    attributes.to_proto()
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_resources::parse_resources;

    #[test]
    fn resources_round_trip() {
        let r = parse_resources("cpus:2;mem:1024;ports:[31000-31005]").unwrap();
        let proto = resources_to_proto(&r);
        assert_eq!(proto.len(), 3);
        let back = resources_from_proto(&proto).unwrap();
        assert_eq!(back.scalar("cpus").as_f64(), 2.0);
        assert_eq!(back.scalar("mem").as_f64(), 1024.0);
    }

    #[test]
    fn attributes_convert() {
        let a = Attributes::parse("rack:r1;slots:4;ports:[1-3];zones:{a,b}").unwrap();
        let proto = attributes_to_proto(&a);
        assert_eq!(proto.len(), 4);
        assert_eq!(proto[0].text.as_ref().unwrap().value, "r1");
        assert_eq!(proto[1].scalar.as_ref().unwrap().value, 4.0);
        assert_eq!(proto[2].ranges.as_ref().unwrap().range.len(), 1);
        assert_eq!(proto[3].set.as_ref().unwrap().item.len(), 2);
    }
}
