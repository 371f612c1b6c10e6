//! Whatever the schedulers do, no agent is ever over-committed: offered + used ≤ total.

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Step {
    Launch { fw: usize, cpus: u8 },
    Decline { fw: usize, refuse: u8 },
    Finish { pick: usize },
    Tick { secs: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, 1..4u8).prop_map(|(fw, cpus)| Step::Launch { fw, cpus }),
        (0..3usize, 0..10u8).prop_map(|(fw, refuse)| Step::Decline { fw, refuse }),
        (0..100usize).prop_map(|pick| Step::Finish { pick }),
        (0..10u8).prop_map(|secs| Step::Tick { secs }),
    ]
}

proptest! {
    #[test]
    fn never_overcommits(steps in proptest::collection::vec(step(), 1..60)) {
        let mut c = core();
        let fws: Vec<String> = (0..3).map(|i| subscribe(&mut c, &format!("f{i}"), 0.0)).collect();
        let agents: Vec<String> = (0..2).map(|_| add_agent(&mut c, "cpus:4;mem:1024")).collect();
        let mut now = T0;
        let mut n = 0;
        c.allocate(now);
        for s in steps {
            let effects = c.take_effects();
            let _ = effects;
            match s {
                Step::Launch { fw, cpus } => {
                    let fw = &fws[fw];
                    if let Some(o) = c.offers.values().find(|o| &o.framework_id == fw).map(|o| o.offer.clone()) {
                        n += 1;
                        let t = task(&format!("t{n}"), &o.agent_id.value, vec![scalar("cpus", f64::from(cpus))]);
                        c.scheduler_call(fw, accept(fw, &o, vec![t]), now).unwrap();
                    }
                }
                Step::Decline { fw, refuse } => {
                    let fw = &fws[fw];
                    let ids: Vec<v1::OfferId> = c.offers.values().filter(|o| &o.framework_id == fw).map(|o| o.offer.id.clone()).collect();
                    let decline = Call {
                        framework_id: Some(v1::FrameworkId { value: fw.clone() }),
                        r#type: Some(call::Type::Decline as i32),
                        decline: Some(call::Decline { offer_ids: ids, filters: Some(v1::Filters { refuse_seconds: Some(f64::from(refuse)) }) }),
                        ..Default::default()
                    };
                    c.scheduler_call(fw, decline, now).unwrap();
                }
                Step::Finish { pick } => {
                    let live: Vec<(String, String, String)> = c.tasks.iter().filter(|(_, r)| !r.terminal)
                        .map(|((f, t), r)| (f.clone(), t.clone(), r.task.agent_id.value.clone())).collect();
                    if !live.is_empty() {
                        let (f, t, a) = live[pick % live.len()].clone();
                        let status = v1::TaskStatus { task_id: v1::TaskId { value: t }, state: TaskState::TaskFinished as i32, uuid: Some(vec![1; 16]), ..Default::default() };
                        agent_call(&mut c, &a, AgentCall::StatusUpdate { framework_id: v1::FrameworkId { value: f }, status, latest_state: None }, now).unwrap();
                    }
                }
                Step::Tick { secs } => { now += f64::from(secs); c.tick(now); }
            }
            c.allocate(now);
            for a in &agents {
                let agent = &c.agents[a];
                let mut held = agent.used.clone();
                held.add_all(&agent.offered);
                prop_assert!(agent.total.contains(&held), "agent {a}: used+offered {held} exceeds total {}", agent.total);
            }
        }
    }
}
