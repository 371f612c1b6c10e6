//! Killing tasks: KILL, shutdown, kill-group, and escalation from SIGTERM to SIGKILL.

use super::*;

impl Executor {
    pub(super) fn on_kill(&mut self, task_id: &TaskId, override_grace: Option<Duration>) {
        let Some(index) = self.find(task_id) else {
            tracing::warn!(task_id = %task_id.value, "KILL for an unknown task ignored");
            return;
        };
        let grace = override_grace.unwrap_or_else(|| self.tasks[index].own_grace());
        let group = self.tasks[index].group;
        if self.config.mode == Mode::Default {
            // Killing one task of a group kills the group.
            for other in 0..self.tasks.len() {
                if self.tasks[other].group == group {
                    let own = override_grace.unwrap_or_else(|| self.tasks[other].own_grace());
                    self.kill(other, own, None);
                }
            }
        } else {
            self.kill(index, grace, None);
        }
    }

    /// Starts (or shortens) the kill of task `index`.
    pub(super) fn kill(&mut self, index: usize, grace: Duration, reason: Option<Reason>) {
        let task = &mut self.tasks[index];
        if task.is_terminal() {
            return;
        }
        let task_id = task.id().clone();
        if let Some(killing) = &mut task.killing {
            if grace < killing.grace && killing.signalled && !killing.escalated {
                killing.grace = grace;
                killing.generation += 1;
                let generation = killing.generation;
                self.arm_escalation(index, task_id, generation, grace);
            }
            return;
        }
        task.killing = Some(Killing {
            grace,
            generation: 0,
            signalled: false,
            escalated: false,
            reason,
        });
        if self.tasks[index].info.health_check.is_some() {
            self.out.push(Effect::StopHealthCheck(task_id.clone()));
        }
        if self.killing_state {
            self.report(&task_id, Report::state(TaskState::TaskKilling));
        }
        if self.tasks[index].pid().is_some() {
            self.signal_term(index);
        }
    }

    pub(super) fn signal_term(&mut self, index: usize) {
        let task = &mut self.tasks[index];
        let (Some(pid), Some(killing)) = (task.pid(), task.killing.as_mut()) else {
            return;
        };
        killing.signalled = true;
        let (grace, generation) = (killing.grace, killing.generation);
        let task_id = task.id().clone();
        self.out.push(Effect::Signal {
            task_id: task_id.clone(),
            pid,
            signal: Signal::Term,
        });
        self.arm_escalation(index, task_id, generation, grace);
    }

    fn arm_escalation(&mut self, index: usize, task_id: TaskId, generation: u64, grace: Duration) {
        if grace.is_zero() {
            self.escalate(index);
        } else {
            self.out.push(Effect::Schedule {
                timer: Timer::Escalate {
                    task_id,
                    generation,
                },
                after: grace,
            });
        }
    }

    pub(super) fn escalate(&mut self, index: usize) {
        let task = &mut self.tasks[index];
        let (Some(pid), Some(killing)) = (task.pid(), task.killing.as_mut()) else {
            return;
        };
        if killing.escalated {
            return;
        }
        killing.escalated = true;
        self.out.push(Effect::Signal {
            task_id: task.id().clone(),
            pid,
            signal: Signal::Kill,
        });
    }

    pub(super) fn begin_shutdown(&mut self, why: Shutdown) {
        if self.shutdown.is_none() || why == Shutdown::AgentLost {
            self.shutdown = Some(why);
        }
        // Leave room within the agent's shutdown grace period for the terminal updates.
        let budget = self.config.shutdown_grace_period;
        let cap = budget
            .saturating_sub(Duration::from_secs(1))
            .max(budget / 2);
        for index in 0..self.tasks.len() {
            let grace = self.tasks[index].own_grace().min(cap);
            self.kill(index, grace, None);
        }
    }
}
