//! Maintenance: schedule validation, machine modes, unavailability on offers, inverse offers,
//! START (agents removed, registration refused) and STOP, and the registry record.

use std::sync::Arc;

use corral_api::v1::allocator::inverse_offer_status::Status as IoStatus;
use corral_api::v1::maintenance::{Schedule, Window};
use corral_store::{MemoryStore, Store};

use super::*;
use crate::registry::{MaintenanceRecord, Registry, RegistryWrite};

fn host(h: &str) -> v1::MachineId {
    v1::MachineId {
        hostname: Some(h.into()),
        ip: None,
    }
}

fn unavail(start_secs: i64) -> v1::Unavailability {
    v1::Unavailability {
        start: v1::TimeInfo {
            nanoseconds: start_secs * 1_000_000_000,
        },
        duration: Some(v1::DurationInfo {
            nanoseconds: 3_600_000_000_000,
        }),
    }
}

fn schedule(windows: Vec<(Vec<v1::MachineId>, i64)>) -> Schedule {
    Schedule {
        windows: windows
            .into_iter()
            .map(|(machine_ids, start)| Window {
                machine_ids,
                unavailability: unavail(start),
            })
            .collect(),
    }
}

fn writes(effects: &[Effect]) -> Vec<RegistryWrite> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Registry(w) => Some(w.clone()),
            _ => None,
        })
        .collect()
}

fn inverse_offers(effects: &[Effect], fw: &str) -> Vec<v1::InverseOffer> {
    events_for(effects, fw)
        .into_iter()
        .filter_map(|e| e.inverse_offers)
        .flat_map(|i| i.inverse_offers)
        .collect()
}

fn subscribe_agent(c: &mut MasterCore, hostname: &str) -> Result<String, CoreError> {
    subscribe_new_agent(c, hostname, "cpus:2;mem:256")
}

/// A framework running task "t" on an agent with hostname "h".
fn running() -> (MasterCore, String, String) {
    let (mut c, fw, agent, offer) = offered("cpus:2;mem:256");
    accept_t(&mut c, &fw, &agent, &offer);
    c.take_effects();
    (c, fw, agent)
}

#[test]
fn invalid_schedules_are_refused_and_change_nothing() {
    let mut c = core();
    let bad = [
        (schedule(vec![(vec![], 0)]), "is empty"),
        (
            schedule(vec![(vec![v1::MachineId::default()], 0)]),
            "'hostname' or 'ip'",
        ),
        (
            schedule(vec![(
                vec![v1::MachineId {
                    hostname: None,
                    ip: Some("not-an-ip".into()),
                }],
                0,
            )]),
            "IP",
        ),
        (schedule(vec![(vec![host("a")], -1)]), "negative"),
        (
            schedule(vec![(vec![host("a")], 0), (vec![host("A")], 10)]),
            "more than once",
        ),
    ];
    for (s, want) in bad {
        let err = c.update_maintenance_schedule(&s, T0).unwrap_err();
        assert!(
            matches!(&err, CoreError::Invalid(m) if m.contains(want)),
            "{err:?} should mention {want}"
        );
        assert!(c.take_effects().is_empty(), "nothing written");
        assert!(c.maintenance().schedule().windows.is_empty());
    }
}

#[test]
fn modes_follow_start_and_stop_with_mesos_validation() {
    let mut c = core();
    let a = host("a");
    // START/STOP need scheduled machines in the right mode.
    assert!(c.start_maintenance(std::slice::from_ref(&a), T0).is_err());
    assert!(c.stop_maintenance(std::slice::from_ref(&a)).is_err());
    assert!(c.start_maintenance(&[], T0).is_err());
    c.update_maintenance_schedule(&schedule(vec![(vec![a.clone(), host("b")], 100)]), T0)
        .unwrap();
    let w = writes(&c.take_effects());
    assert!(matches!(&w[..], [RegistryWrite::Maintenance(r)] if r.down.is_empty()));
    let status = c.maintenance_status();
    assert_eq!(status.draining_machines.len(), 2);
    assert!(status.down_machines.is_empty());
    let err = c.stop_maintenance(std::slice::from_ref(&a)).unwrap_err();
    assert!(format!("{err}").contains("not in DOWN mode"), "{err}");
    assert!(c.start_maintenance(&[a.clone(), a.clone()], T0).is_err());

    c.start_maintenance(std::slice::from_ref(&a), T0).unwrap();
    let w = writes(&c.take_effects());
    assert!(matches!(&w[..], [RegistryWrite::Maintenance(r)] if r.down == vec![a.clone()]));
    assert_eq!(c.maintenance_status().down_machines, vec![a.clone()]);
    // A DOWN machine cannot leave the schedule, nor be brought down twice.
    let err = c
        .update_maintenance_schedule(&schedule(vec![(vec![host("b")], 100)]), T0)
        .unwrap_err();
    assert!(format!("{err}").contains("cannot be removed"), "{err}");
    assert!(c.start_maintenance(std::slice::from_ref(&a), T0).is_err());
    // Re-scheduling keeps the DOWN mode and takes the new unavailability.
    c.update_maintenance_schedule(&schedule(vec![(vec![a.clone()], 500)]), T0)
        .unwrap();
    assert_eq!(c.maintenance_status().down_machines, vec![a.clone()]);
    assert!(
        c.maintenance_status().draining_machines.is_empty(),
        "b is UP"
    );

    c.stop_maintenance(std::slice::from_ref(&a)).unwrap();
    assert!(
        c.maintenance().schedule().windows.is_empty(),
        "empty window dropped"
    );
    let status = c.maintenance_status();
    assert!(status.down_machines.is_empty() && status.draining_machines.is_empty());
}

#[test]
fn offers_carry_the_unavailability_and_outstanding_ones_are_rescinded() {
    let (mut c, fw, _agent, offer) = offered("cpus:2;mem:256");
    assert_eq!(offer.unavailability, None);
    c.update_maintenance_schedule(&schedule(vec![(vec![host("H")], 100)]), T0)
        .unwrap();
    let effects = c.take_effects();
    let first_write = effects
        .iter()
        .position(|e| matches!(e, Effect::Registry(RegistryWrite::Maintenance(_))));
    let rescind = events_for(&effects, &fw)
        .iter()
        .position(|e| e.rescind.is_some());
    assert_eq!(first_write, Some(0), "persisted first");
    assert!(rescind.is_some(), "the old offer is rescinded");
    c.allocate(T0);
    let effects = c.take_effects();
    let o = offers(&effects, &fw).pop().expect("offered again");
    assert_eq!(o.unavailability, Some(unavail(100)));
    // The framework holds an offer on the agent: it gets an inverse offer too.
    assert_eq!(inverse_offers(&effects, &fw).len(), 1);
}

#[test]
fn inverse_offers_go_to_frameworks_on_draining_agents_and_record_answers() {
    let (mut c, fw, agent) = running();
    c.update_maintenance_schedule(&schedule(vec![(vec![host("h")], 100)]), T0)
        .unwrap();
    c.take_effects();
    c.allocate(T0);
    let effects = c.take_effects();
    let ios = inverse_offers(&effects, &fw);
    assert_eq!(ios.len(), 1, "one inverse offer per agent and framework");
    let io = &ios[0];
    assert_eq!(
        io.agent_id.as_ref().map(|a| a.value.as_str()),
        Some(agent.as_str())
    );
    assert_eq!(io.framework_id.value, fw);
    assert_eq!(io.unavailability, unavail(100));
    assert!(io.url.is_some());
    // Not sent again while outstanding.
    c.allocate(T0 + 1.0);
    assert!(inverse_offers(&c.take_effects(), &fw).is_empty());

    let answer = Call {
        framework_id: Some(v1::FrameworkId { value: fw.clone() }),
        r#type: Some(call::Type::AcceptInverseOffers as i32),
        accept_inverse_offers: Some(call::AcceptInverseOffers {
            inverse_offer_ids: vec![io.id.clone()],
            filters: None,
        }),
        ..Default::default()
    };
    c.scheduler_call(&fw, answer, T0 + 2.0).unwrap();
    let status = c.maintenance_status();
    let statuses = &status.draining_machines[0].statuses;
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].status, IoStatus::Accept as i32);
    assert_eq!(statuses[0].framework_id.value, fw);
    // Filtered for the default 5 s, then asked again.
    c.allocate(T0 + 3.0);
    assert!(inverse_offers(&c.take_effects(), &fw).is_empty());
    c.allocate(T0 + 8.0);
    let again = inverse_offers(&c.take_effects(), &fw);
    assert_eq!(again.len(), 1);

    let decline = Call {
        framework_id: Some(v1::FrameworkId { value: fw.clone() }),
        r#type: Some(call::Type::DeclineInverseOffers as i32),
        decline_inverse_offers: Some(call::DeclineInverseOffers {
            inverse_offer_ids: vec![
                again[0].id.clone(),
                v1::OfferId {
                    value: "nope".into(),
                },
            ],
            filters: None,
        }),
        ..Default::default()
    };
    c.scheduler_call(&fw, decline, T0 + 9.0).unwrap();
    let status = c.maintenance_status();
    assert_eq!(
        status.draining_machines[0].statuses[0].status,
        IoStatus::Decline as i32
    );

    // Leaving the schedule rescinds nothing outstanding (none) and stops inverse offers.
    c.update_maintenance_schedule(&Schedule::default(), T0 + 20.0)
        .unwrap();
    c.allocate(T0 + 30.0);
    assert!(inverse_offers(&c.take_effects(), &fw).is_empty());
    assert!(c.maintenance_status().draining_machines.is_empty());
}

#[test]
fn start_removes_agents_loses_their_tasks_and_refuses_registration_until_stop() {
    let (mut c, fw, agent) = running();
    let h = host("h");
    c.update_maintenance_schedule(&schedule(vec![(vec![h.clone()], 100)]), T0)
        .unwrap();
    c.take_effects();
    c.start_maintenance(std::slice::from_ref(&h), T0 + 1.0)
        .unwrap();
    let effects = c.take_effects();
    let w = writes(&effects);
    assert!(matches!(&w[0], RegistryWrite::Maintenance(r) if r.down == vec![h.clone()]));
    assert!(w.contains(&RegistryWrite::RemoveAgent(agent.clone())));
    let lost = updates(&effects, &fw);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].state(), TaskState::TaskLost);
    assert_eq!(lost[0].reason(), Reason::AgentRemoved);
    assert!(lost[0]
        .message()
        .contains("Operator initiated 'Machine DOWN'"));
    assert!(events_for(&effects, &fw)
        .iter()
        .any(|e| e.failure.as_ref().is_some_and(|f| f
            .agent_id
            .as_ref()
            .map(|a| a.value.as_str())
            == Some(agent.as_str()))));
    assert!(to_agent(&effects)
        .iter()
        .any(|m| matches!(m, MasterMessage::Shutdown { .. })));
    assert!(c.get_agents().agents.is_empty(), "agent removed");

    // Registration from the DOWN machine is refused; other machines are fine.
    let refused = subscribe_agent(&mut c, "H").unwrap_err();
    assert!(
        matches!(&refused, CoreError::AgentGone(m) if m.contains("DOWN")),
        "{refused:?}"
    );
    assert!(subscribe_agent(&mut c, "other").is_ok());

    c.stop_maintenance(&[h]).unwrap();
    assert!(subscribe_agent(&mut c, "h").is_ok(), "UP again");
}

#[test]
fn the_record_survives_a_restart() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut registry = Registry::new(store.clone());
    registry.load().unwrap();
    let mut c = core();
    let (a, b) = (host("a"), host("b"));
    c.update_maintenance_schedule(
        &schedule(vec![(vec![a.clone()], 10), (vec![b.clone()], 20)]),
        T0,
    )
    .unwrap();
    c.start_maintenance(std::slice::from_ref(&b), T0).unwrap();
    for w in writes(&c.take_effects()) {
        registry.apply(&w).unwrap();
    }
    let state = crate::registry::load(store.as_ref()).unwrap();
    assert_eq!(
        state.maintenance,
        Some(MaintenanceRecord {
            schedule: c.maintenance().schedule().clone(),
            down: vec![b.clone()],
        })
    );
    let mut again = core();
    again.recover(state, T0);
    assert_eq!(again.maintenance().schedule(), c.maintenance().schedule());
    let status = again.maintenance_status();
    assert_eq!(status.down_machines, vec![b]);
    assert_eq!(status.draining_machines.len(), 1);
    assert_eq!(status.draining_machines[0].id, a);
    assert!(subscribe_agent(&mut again, "b").is_err());
}

#[test]
fn a_resubscribed_framework_is_asked_again() {
    let (mut c, fw, _agent) = running();
    c.update_maintenance_schedule(&schedule(vec![(vec![host("h")], 100)]), T0)
        .unwrap();
    c.allocate(T0);
    assert_eq!(inverse_offers(&c.take_effects(), &fw).len(), 1);
    resubscribe(&mut c, &fw, 0.0, "s-new", T0 + 1.0);
    c.allocate(T0 + 1.0);
    let effects = c.take_effects();
    assert_eq!(
        inverse_offers(&effects, &fw).len(),
        1,
        "the old stream's inverse offer is forgotten"
    );
    assert_eq!(c.maintenance().inverse_offers().len(), 1);
}
