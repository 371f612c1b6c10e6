//! Operations that reshape an agent's resources without consuming them: RESERVE, UNRESERVE,
//! CREATE and DESTROY, from an ACCEPT (on offered resources the framework holds) or from the
//! operator API (on resources nobody holds). Each is a conversion `from → to` of equal
//! quantities; afterwards the agent's checkpointed set (every dynamically reserved resource and
//! persistent volume in its total) is sent to it in full.

use corral_api::internal::MasterMessage;
use corral_api::v1::{self, offer::operation::Type as OpType};
use corral_resources::{ReservationType, Resource, Resources};
use thiserror::Error;

use super::records::Time;
use super::{Effect, MasterCore};

/// Why an operation was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OpError {
    /// Malformed or not allowed (400).
    #[error("{0}")]
    Invalid(String),
    /// Not enough of the needed resources are available (409).
    #[error("{0}")]
    Conflict(String),
    /// The agent is not registered (400 in Mesos's operator API).
    #[error("Agent '{0}' is not registered")]
    UnknownAgent(String),
}

/// A validated operation: `from` is replaced by `to` on the agent.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// What the operation consumes.
    pub from: Resources,
    /// What it produces.
    pub to: Resources,
}

/// The resource a checkpointed one was made from: its volume removed (the disk source kept) and
/// its dynamic reservations popped. Static reservations stay.
pub(crate) fn base_of(r: &Resource) -> Resource {
    let mut base = r.clone();
    if let Some(disk) = &mut base.disk {
        disk.persistence = None;
        disk.volume = None;
        if disk.source.is_none() {
            base.disk = None;
        }
    }
    while base
        .reservations
        .last()
        .is_some_and(|x| x.kind == ReservationType::Dynamic)
    {
        base.reservations.pop();
    }
    base
}

fn without_volume(r: &Resource) -> Resource {
    let mut out = r.clone();
    if let Some(disk) = &mut out.disk {
        disk.persistence = None;
        disk.volume = None;
        if disk.source.is_none() {
            out.disk = None;
        }
    }
    out
}

/// Every dynamically reserved resource and persistent volume in `total`.
pub(crate) fn checkpointed_of(total: &Resources) -> Resources {
    total.filter(|r| r.is_dynamically_reserved() || r.is_persistent_volume())
}

/// An agent's total: its static resources with its checkpointed ones applied.
pub(crate) fn apply_checkpointed(
    static_total: &Resources,
    checkpointed: &Resources,
) -> Result<Resources, String> {
    let mut total = static_total.clone();
    for r in checkpointed.iter() {
        let base: Resources = std::iter::once(base_of(r)).collect();
        total.subtract(&base).map_err(|_| {
            format!("checkpointed resource {r} does not fit the agent's resources {static_total}")
        })?;
        total.add(r.clone());
    }
    Ok(total)
}

fn parse(resources: &[v1::Resource], what: &str) -> Result<Resources, OpError> {
    if resources.is_empty() {
        return Err(OpError::Invalid(format!("{what}: no resources given")));
    }
    Resources::from_proto(resources).map_err(|e| OpError::Invalid(format!("{what}: {e}")))
}

fn check_principal(r: &Resource, principal: Option<&str>, what: &str) -> Result<(), OpError> {
    let Some(expected) = principal else {
        return Ok(());
    };
    let given = r.reservations.last().and_then(|x| x.principal.as_deref());
    if given != Some(expected) {
        return Err(OpError::Invalid(format!(
            "{what}: reservation principal {given:?} does not match the framework's principal '{expected}'"
        )));
    }
    Ok(())
}

/// RESERVE: `resources` carry the new (dynamic, innermost) reservation.
pub fn reserve(
    resources: &[v1::Resource],
    role: Option<&str>,
    principal: Option<&str>,
) -> Result<Conversion, OpError> {
    let to = parse(resources, "RESERVE")?;
    for r in to.iter() {
        let Some(last) = r.reservations.last() else {
            return Err(OpError::Invalid(format!("RESERVE: {r} has no reservation")));
        };
        if last.kind != ReservationType::Dynamic {
            return Err(OpError::Invalid(format!(
                "RESERVE: {r} must be a DYNAMIC reservation"
            )));
        }
        if r.is_persistent_volume() {
            return Err(OpError::Invalid(format!(
                "RESERVE: {r} is a persistent volume"
            )));
        }
        if let Some(role) = role {
            if !corral_resources::roles::is_role_or_subrole(&last.role, role) {
                return Err(OpError::Invalid(format!(
                    "RESERVE: reservation role '{}' is not the framework's role '{role}' or below it",
                    last.role
                )));
            }
        }
        check_principal(r, principal, "RESERVE")?;
    }
    let from = to
        .pop_reservation()
        .map_err(|e| OpError::Invalid(format!("RESERVE: {e}")))?;
    Ok(Conversion { from, to })
}

/// UNRESERVE: `resources` are dynamically reserved ones to return to their previous state.
pub fn unreserve(resources: &[v1::Resource]) -> Result<Conversion, OpError> {
    let from = parse(resources, "UNRESERVE")?;
    for r in from.iter() {
        if !r.is_dynamically_reserved() {
            return Err(OpError::Invalid(format!(
                "UNRESERVE: {r} is not dynamically reserved"
            )));
        }
        if r.is_persistent_volume() {
            return Err(OpError::Invalid(format!(
                "UNRESERVE: {r} is a persistent volume; DESTROY it first"
            )));
        }
    }
    let to = from
        .pop_reservation()
        .map_err(|e| OpError::Invalid(format!("UNRESERVE: {e}")))?;
    Ok(Conversion { from, to })
}

/// CREATE: `volumes` are reserved disk resources with `disk.persistence` and `disk.volume`.
pub fn create(
    volumes: &[v1::Resource],
    existing: &Resources,
    principal: Option<&str>,
) -> Result<Conversion, OpError> {
    let to = parse(volumes, "CREATE")?;
    let mut ids = std::collections::BTreeSet::new();
    for r in to.iter() {
        let Some(disk) = &r.disk else {
            return Err(OpError::Invalid(format!("CREATE: {r} is not a volume")));
        };
        let (Some(persistence), Some(volume)) = (&disk.persistence, &disk.volume) else {
            return Err(OpError::Invalid(format!(
                "CREATE: {r} needs 'disk.persistence' and 'disk.volume'"
            )));
        };
        if r.reservations.is_empty() {
            return Err(OpError::Invalid(format!(
                "CREATE: volume '{}' must be on reserved disk",
                persistence.id
            )));
        }
        corral_api::ids::validate_id("Persistence", &persistence.id)
            .map_err(|e| OpError::Invalid(e.to_string()))?;
        if volume.container_path.is_empty() {
            return Err(OpError::Invalid(format!(
                "CREATE: volume '{}' has no container_path",
                persistence.id
            )));
        }
        let role = r.reservation_role().unwrap_or("*");
        let clash = existing.iter().any(|e| {
            e.reservation_role() == Some(role)
                && e.disk
                    .as_ref()
                    .and_then(|d| d.persistence.as_ref())
                    .is_some_and(|p| p.id == persistence.id)
        });
        if clash || !ids.insert((role.to_string(), persistence.id.clone())) {
            return Err(OpError::Conflict(format!(
                "CREATE: a persistent volume '{}' already exists for role '{role}'",
                persistence.id
            )));
        }
        if let Some(expected) = principal {
            if persistence.principal.as_deref() != Some(expected) {
                return Err(OpError::Invalid(format!(
                    "CREATE: volume principal {:?} does not match the framework's principal '{expected}'",
                    persistence.principal
                )));
            }
        }
    }
    let from: Resources = to.iter().map(without_volume).collect();
    Ok(Conversion { from, to })
}

/// DESTROY: `volumes` return to plain reserved disk (the agent deletes their data).
pub fn destroy(volumes: &[v1::Resource]) -> Result<Conversion, OpError> {
    let from = parse(volumes, "DESTROY")?;
    if let Some(r) = from.iter().find(|r| !r.is_persistent_volume()) {
        return Err(OpError::Invalid(format!(
            "DESTROY: {r} is not a persistent volume"
        )));
    }
    let to: Resources = from.iter().map(without_volume).collect();
    Ok(Conversion { from, to })
}

impl MasterCore {
    /// Apply a reshaping operation from an ACCEPT to what the framework holds (`remaining`).
    /// Returns whether it was applied; a refused one is logged and changes nothing.
    pub(crate) fn accept_operation(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        operation: &v1::offer::Operation,
        remaining: &mut Resources,
    ) -> bool {
        let principal = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.info.principal.clone());
        let kind = operation.r#type.and_then(|t| OpType::try_from(t).ok());
        let existing = self
            .agents
            .get(agent_id)
            .map(|a| a.total.clone())
            .unwrap_or_default();
        let conversion = match (kind, operation) {
            (
                Some(OpType::Reserve),
                v1::offer::Operation {
                    reserve: Some(r), ..
                },
            ) => reserve(&r.resources, Some(role), principal.as_deref()),
            (
                Some(OpType::Unreserve),
                v1::offer::Operation {
                    unreserve: Some(u), ..
                },
            ) => unreserve(&u.resources),
            (
                Some(OpType::Create),
                v1::offer::Operation {
                    create: Some(c), ..
                },
            ) => create(&c.volumes, &existing, principal.as_deref()),
            (
                Some(OpType::Destroy),
                v1::offer::Operation {
                    destroy: Some(d), ..
                },
            ) => destroy(&d.volumes),
            _ => Err(OpError::Invalid(format!(
                "offer operation {kind:?} is not supported yet or lacks its payload"
            ))),
        };
        let conversion = conversion.and_then(|c| {
            let mut from = c.from.clone();
            from.unallocate();
            if remaining.contains(&from) {
                Ok(Conversion {
                    from,
                    to: c.to.stripped(),
                })
            } else {
                Err(OpError::Conflict(format!(
                    "operation needs {from} but the accepted offers hold {remaining}"
                )))
            }
        });
        match conversion {
            Ok(c) => {
                let _ = remaining.subtract(&c.from);
                remaining.add_all(&c.to);
                if let Some(agent) = self.agents.get_mut(agent_id) {
                    let _ = agent.total.subtract(&c.from);
                    agent.total.add_all(&c.to);
                }
                self.allocator
                    .convert_allocation(framework_id, agent_id, role, &c.from, &c.to);
                self.checkpoint_agent(agent_id);
                tracing::info!(framework_id, agent_id, ?kind, "offer operation applied");
                true
            }
            Err(e) => {
                tracing::warn!(
                    framework_id,
                    agent_id,
                    ?kind,
                    "offer operation refused: {e}"
                );
                false
            }
        }
    }

    /// Apply a reshaping operation from the operator API to resources nobody holds. Outstanding
    /// offers on the agent are rescinded first so that offered resources can be used.
    pub fn operator_operation(
        &mut self,
        agent_id: &str,
        conversion: Result<Conversion, OpError>,
        now: Time,
    ) -> Result<(), OpError> {
        if !self.agents.contains_key(agent_id) {
            return Err(OpError::UnknownAgent(agent_id.to_string()));
        }
        let mut c = conversion?;
        c.from.unallocate();
        c.to.unallocate();
        let offers: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| o.agent_id == agent_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in offers {
            self.rescind_offer(&id, now);
        }
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return Err(OpError::UnknownAgent(agent_id.to_string()));
        };
        let mut available = agent.total.clone();
        let _ = available.subtract(&agent.used);
        if !available.contains(&c.from) {
            return Err(OpError::Conflict(format!(
                "Insufficient resources: the operation needs {} but {available} is available on agent {agent_id}",
                c.from
            )));
        }
        let _ = agent.total.subtract(&c.from);
        agent.total.add_all(&c.to);
        let total = agent.total.clone();
        self.allocator.update_agent_total(agent_id, &total);
        self.checkpoint_agent(agent_id);
        self.allocation_pending = true;
        Ok(())
    }

    /// An agent's current total, if registered.
    pub fn agent_total(&self, agent_id: &str) -> Option<Resources> {
        self.agents.get(agent_id).map(|a| a.total.clone())
    }

    /// Send the agent its complete checkpointed set.
    fn checkpoint_agent(&mut self, agent_id: &str) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let resources = checkpointed_of(&agent.total).to_proto();
        self.emit(Effect::ToAgent {
            agent_id: agent_id.to_string(),
            message: MasterMessage::CheckpointResources { resources },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(name: &str, v: f64) -> v1::Resource {
        v1::Resource {
            name: name.into(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value: v }),
            ..Default::default()
        }
    }

    fn reserved(mut r: v1::Resource, role: &str, principal: Option<&str>) -> v1::Resource {
        r.reservations.push(v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
            role: Some(role.into()),
            principal: principal.map(str::to_string),
            labels: None,
        });
        r
    }

    fn volume(id: &str, role: &str) -> v1::Resource {
        let mut r = reserved(scalar("disk", 100.0), role, Some("p"));
        r.disk = Some(v1::resource::DiskInfo {
            persistence: Some(v1::resource::disk_info::Persistence {
                id: id.into(),
                principal: Some("p".into()),
            }),
            volume: Some(v1::Volume {
                container_path: "data".into(),
                mode: v1::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        });
        r
    }

    #[test]
    fn reserve_pops_to_the_unreserved_source() {
        let c = reserve(
            &[reserved(scalar("cpus", 1.0), "db", Some("p"))],
            Some("db"),
            Some("p"),
        )
        .unwrap();
        assert_eq!(c.from, "cpus:1".parse::<Resources>().unwrap());
        assert_eq!(c.to.iter().next().unwrap().reservation_role(), Some("db"));
        assert!(matches!(
            reserve(&[scalar("cpus", 1.0)], Some("db"), None),
            Err(OpError::Invalid(_))
        ));
        assert!(matches!(
            reserve(
                &[reserved(scalar("cpus", 1.0), "other", None)],
                Some("db"),
                None
            ),
            Err(OpError::Invalid(_))
        ));
        assert!(matches!(
            reserve(
                &[reserved(scalar("cpus", 1.0), "db", Some("q"))],
                Some("db"),
                Some("p")
            ),
            Err(OpError::Invalid(_))
        ));
    }

    #[test]
    fn create_and_destroy_are_inverse_and_ids_are_unique() {
        let c = create(&[volume("v1", "db")], &Resources::default(), Some("p")).unwrap();
        let d = destroy(&[volume("v1", "db")]).unwrap();
        assert_eq!(c.from, d.to);
        assert_eq!(c.to, d.from);
        assert!(matches!(
            create(&[volume("v1", "db")], &c.to, Some("p")),
            Err(OpError::Conflict(_))
        ));
        assert!(matches!(
            destroy(&[scalar("disk", 1.0)]),
            Err(OpError::Invalid(_))
        ));
    }

    #[test]
    fn checkpointed_resources_apply_to_the_static_total() {
        let static_total: Resources = "cpus:4;disk:1000".parse().unwrap();
        let mut checkpointed = Resources::from_proto(&[volume("v1", "db")]).unwrap();
        checkpointed
            .add_all(&Resources::from_proto(&[reserved(scalar("cpus", 1.0), "db", None)]).unwrap());
        let total = apply_checkpointed(&static_total, &checkpointed).unwrap();
        assert_eq!(checkpointed_of(&total), checkpointed);
        assert_eq!(total.scalar_total("disk"), 1000.0);
        assert_eq!(total.scalar_total("cpus"), 4.0);
        let too_big = Resources::from_proto(&[reserved(scalar("cpus", 8.0), "db", None)]).unwrap();
        assert!(apply_checkpointed(&static_total, &too_big).is_err());
    }
}
