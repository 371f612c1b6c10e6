//! Mesos v1 JSON for `Resource` arrays (as accepted by the `--resources` flag).
//!
//! Input accepts both reservation formats: post-refinement `reservations`
//! and the legacy `role` (+ `reservation` for a dynamic one), numbers given
//! as strings, `null` as "absent", and a single object where a list is
//! expected. Unknown keys are ignored. Output uses the post-refinement format.

use serde_json::{json, Map, Value as Json};

use crate::error::{ParseError, ValidationError};
use crate::resource::*;
use crate::resources::Resources;
use crate::roles::{validate_role, DEFAULT_ROLE};

/// Parses a JSON array of Mesos `Resource` objects and validates each one.
/// Resources without `role` and `reservations` get `default_role` (a static
/// reservation unless it is `*`).
pub fn resources_from_json(json: &Json, default_role: &str) -> Result<Vec<Resource>, ParseError> {
    let items = json.as_array().ok_or_else(|| ParseError::Json {
        reason: "expected a JSON array of resources".to_string(),
    })?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = item.get("name").and_then(Json::as_str).unwrap_or_default();
        let token = format!("resources[{i}] ({name})");
        let resource = resource_from_json(item, default_role).map_err(|p| match p {
            Problem::Syntax(reason) => ParseError::Syntax {
                token: token.clone(),
                reason,
            },
            Problem::Invalid(error) => ParseError::Invalid {
                token: token.clone(),
                error,
            },
        })?;
        resource
            .validate()
            .map_err(|error| ParseError::Invalid { token, error })?;
        out.push(resource);
    }
    Ok(out)
}

enum Problem {
    Syntax(String),
    Invalid(ValidationError),
}

impl From<ValidationError> for Problem {
    fn from(e: ValidationError) -> Problem {
        Problem::Invalid(e)
    }
}

fn syntax<T>(reason: impl Into<String>) -> Result<T, Problem> {
    Err(Problem::Syntax(reason.into()))
}

/// `obj[key]`, treating `null` as absent.
fn field<'a>(obj: &'a Json, key: &str) -> Option<&'a Json> {
    obj.get(key).filter(|v| !v.is_null())
}

fn string(obj: &Json, key: &str) -> Result<Option<String>, Problem> {
    match field(obj, key) {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => syntax(format!("'{key}' must be a string")),
    }
}

/// A repeated field: an array, or a single element.
fn list(value: Option<&Json>) -> Vec<&Json> {
    match value {
        None => Vec::new(),
        Some(Json::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    }
}

fn number_f64(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn number_u64(v: &Json) -> Option<u64> {
    match v {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn resource_from_json(obj: &Json, default_role: &str) -> Result<Resource, Problem> {
    if !obj.is_object() {
        return syntax("expected a JSON object");
    }
    let name = string(obj, "name")?.ok_or(Problem::Syntax("missing 'name'".into()))?;
    let ty: ValueType = string(obj, "type")?
        .ok_or(Problem::Syntax("missing 'type'".into()))?
        .parse()
        .map_err(Problem::Syntax)?;
    for (key, kind) in [
        ("scalar", ValueType::Scalar),
        ("ranges", ValueType::Ranges),
        ("set", ValueType::Set),
    ] {
        if kind != ty && field(obj, key).is_some() {
            return syntax(format!("'{key}' is set on a {ty} resource"));
        }
    }
    let value = match ty {
        ValueType::Scalar => {
            let scalar = field(obj, "scalar").ok_or(Problem::Syntax("missing 'scalar'".into()))?;
            let number = field(scalar, "value")
                .and_then(number_f64)
                .ok_or(Problem::Syntax("'scalar.value' must be a number".into()))?;
            Value::try_scalar(&name, number)?
        }
        ValueType::Ranges => {
            let ranges = field(obj, "ranges");
            let mut pairs = Vec::new();
            for range in list(ranges.and_then(|r| field(r, "range"))) {
                let bound = |key| field(range, key).and_then(number_u64);
                match (bound("begin"), bound("end")) {
                    (Some(b), Some(e)) => pairs.push((b, e)),
                    _ => return syntax("each range needs unsigned integers 'begin' and 'end'"),
                }
            }
            Value::try_ranges(&name, &pairs)?
        }
        ValueType::Set => {
            let set = field(obj, "set");
            let mut items = Vec::new();
            for item in list(set.and_then(|s| field(s, "item"))) {
                match item.as_str() {
                    Some(s) => items.push(s.to_string()),
                    None => return syntax("set items must be strings"),
                }
            }
            Value::try_set(&name, items)?
        }
    };
    let mut resource = Resource::new(name, value);
    resource.reservations = reservations_from_json(obj, &resource.name, default_role)?;
    if let Some(info) = field(obj, "allocation_info") {
        resource.allocation_role = string(info, "role")?;
    }
    if let Some(disk) = field(obj, "disk") {
        resource.disk = Some(disk_from_json(disk)?);
    }
    resource.revocable = field(obj, "revocable").is_some();
    resource.shared = field(obj, "shared").is_some();
    if let Some(provider) = field(obj, "provider_id") {
        resource.provider_id = string(provider, "value")?;
    }
    Ok(resource)
}

/// Both reservation formats, converted to the post-refinement stack.
fn reservations_from_json(
    obj: &Json,
    name: &str,
    default_role: &str,
) -> Result<Vec<Reservation>, Problem> {
    let legacy_role = string(obj, "role")?;
    let legacy_reservation = field(obj, "reservation");
    let mut stack = Vec::new();
    for item in list(field(obj, "reservations")) {
        let kind = match string(item, "type")?.as_deref() {
            Some("STATIC") => ReservationType::Static,
            Some("DYNAMIC") => ReservationType::Dynamic,
            Some(other) => return syntax(format!("unknown reservation type '{other}'")),
            None => return syntax("reservation 'type' must be set"),
        };
        let role = string(item, "role")?
            .ok_or(Problem::Syntax("reservation 'role' must be set".into()))?;
        stack.push(Reservation {
            kind,
            role,
            principal: string(item, "principal")?,
            labels: labels_from_json(field(item, "labels"))?,
        });
    }
    if !stack.is_empty() {
        // The legacy fields may repeat a single reservation, nothing else.
        if let Some(role) = legacy_role {
            if stack.len() > 1 || stack[0].role != role {
                return syntax(format!(
                    "'role' '{role}' does not match the roles in 'reservations'"
                ));
            }
        }
        return Ok(stack);
    }
    let role = legacy_role.unwrap_or_else(|| default_role.to_string());
    validate_role(&role).map_err(|error| ValidationError::InvalidRole {
        name: name.to_string(),
        error,
    })?;
    match legacy_reservation {
        Some(_) if role == DEFAULT_ROLE => Err(ValidationError::ReservedToStar {
            name: name.to_string(),
        }
        .into()),
        Some(info) => Ok(vec![Reservation {
            kind: ReservationType::Dynamic,
            role,
            principal: string(info, "principal")?,
            labels: labels_from_json(field(info, "labels"))?,
        }]),
        None if role == DEFAULT_ROLE => Ok(Vec::new()),
        None => Ok(vec![Reservation::new_static(role)]),
    }
}

fn labels_from_json(labels: Option<&Json>) -> Result<Vec<(String, String)>, Problem> {
    let mut out = Vec::new();
    for label in list(labels.and_then(|l| field(l, "labels"))) {
        let key = string(label, "key")?.ok_or(Problem::Syntax("label 'key' must be set".into()))?;
        out.push((key, string(label, "value")?.unwrap_or_default()));
    }
    Ok(out)
}

fn disk_from_json(disk: &Json) -> Result<DiskInfo, Problem> {
    let mut info = DiskInfo::default();
    if let Some(p) = field(disk, "persistence") {
        info.persistence = Some(Persistence {
            id: string(p, "id")?.ok_or(Problem::Syntax("persistence 'id' must be set".into()))?,
            principal: string(p, "principal")?,
        });
    }
    if let Some(v) = field(disk, "volume") {
        let mode = match string(v, "mode")?.as_deref() {
            None => None,
            Some("RW") => Some(VolumeMode::Rw),
            Some("RO") => Some(VolumeMode::Ro),
            Some(other) => return syntax(format!("unknown volume mode '{other}'")),
        };
        info.volume = Some(Volume {
            container_path: string(v, "container_path")?.unwrap_or_default(),
            mode,
        });
    }
    if let Some(s) = field(disk, "source") {
        let kind = match string(s, "type")?.as_deref() {
            Some("PATH") => DiskSourceKind::Path,
            Some("MOUNT") => DiskSourceKind::Mount,
            Some("BLOCK") => DiskSourceKind::Block,
            Some("RAW") => DiskSourceKind::Raw,
            Some(other) => return syntax(format!("unknown disk source type '{other}'")),
            None => return syntax("disk source 'type' must be set"),
        };
        let root_of = |key| field(s, key).map(|p| string(p, "root")).transpose();
        let root = match root_of("path")? {
            Some(root) => root,
            None => root_of("mount")?.flatten(),
        };
        info.source = Some(DiskSource {
            kind,
            root,
            id: string(s, "id")?,
            profile: string(s, "profile")?,
        });
    }
    Ok(info)
}

/// One resource as Mesos v1 JSON (post-refinement format).
pub fn resource_to_json(resource: &Resource) -> Json {
    let mut obj = Map::new();
    obj.insert("name".into(), json!(resource.name));
    obj.insert("type".into(), json!(resource.value_type().as_str()));
    match &resource.value {
        Value::Scalar(s) => obj.insert("scalar".into(), json!({ "value": s.as_f64() })),
        Value::Ranges(r) => {
            let ranges: Vec<Json> = r
                .iter()
                .map(|r| json!({"begin": r.begin(), "end": r.end()}))
                .collect();
            obj.insert("ranges".into(), json!({ "range": ranges }))
        }
        Value::Set(s) => obj.insert(
            "set".into(),
            json!({ "item": s.iter().collect::<Vec<_>>() }),
        ),
    };
    if !resource.reservations.is_empty() {
        let stack: Vec<Json> = resource
            .reservations
            .iter()
            .map(reservation_to_json)
            .collect();
        obj.insert("reservations".into(), Json::Array(stack));
    }
    if let Some(role) = &resource.allocation_role {
        obj.insert("allocation_info".into(), json!({ "role": role }));
    }
    if let Some(disk) = &resource.disk {
        obj.insert("disk".into(), disk_to_json(disk));
    }
    if resource.revocable {
        obj.insert("revocable".into(), json!({}));
    }
    if resource.shared {
        obj.insert("shared".into(), json!({}));
    }
    if let Some(id) = &resource.provider_id {
        obj.insert("provider_id".into(), json!({ "value": id }));
    }
    Json::Object(obj)
}

/// The distinct resources as a Mesos v1 JSON array.
pub fn resources_to_json(resources: &Resources) -> Json {
    Json::Array(resources.iter().map(resource_to_json).collect())
}

fn reservation_to_json(r: &Reservation) -> Json {
    let mut obj = Map::new();
    obj.insert("type".into(), json!(r.kind.as_str()));
    obj.insert("role".into(), json!(r.role));
    if let Some(p) = &r.principal {
        obj.insert("principal".into(), json!(p));
    }
    if !r.labels.is_empty() {
        let labels: Vec<Json> = r
            .labels
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        obj.insert("labels".into(), json!({ "labels": labels }));
    }
    Json::Object(obj)
}

fn disk_to_json(disk: &DiskInfo) -> Json {
    let mut obj = Map::new();
    if let Some(p) = &disk.persistence {
        let mut persistence = json!({ "id": p.id });
        if let (Some(principal), Some(map)) = (&p.principal, persistence.as_object_mut()) {
            map.insert("principal".into(), json!(principal));
        }
        obj.insert("persistence".into(), persistence);
    }
    if let Some(v) = &disk.volume {
        let mut volume = json!({ "container_path": v.container_path });
        if let (Some(mode), Some(map)) = (v.mode, volume.as_object_mut()) {
            let mode = if mode == VolumeMode::Rw { "RW" } else { "RO" };
            map.insert("mode".into(), json!(mode));
        }
        obj.insert("volume".into(), volume);
    }
    if let Some(s) = &disk.source {
        let mut source = Map::new();
        source.insert("type".into(), json!(s.kind.as_str()));
        if let Some(root) = &s.root {
            let key = if s.kind == DiskSourceKind::Mount {
                "mount"
            } else {
                "path"
            };
            source.insert(key.into(), json!({ "root": root }));
        }
        if let Some(id) = &s.id {
            source.insert("id".into(), json!(id));
        }
        if let Some(profile) = &s.profile {
            source.insert("profile".into(), json!(profile));
        }
        obj.insert("source".into(), Json::Object(source));
    }
    Json::Object(obj)
}

#[cfg(test)]
mod tests;
