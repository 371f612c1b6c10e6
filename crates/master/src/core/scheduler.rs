//! Scheduler API calls, once the HTTP edge has decoded and checked their shape.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use corral_api::internal::MasterMessage;
use corral_api::v1;
use corral_api::v1::scheduler::{call, event, Call, Event};

use super::failover::fid;
use super::records::{framework_roles, Connection, Framework, Time};
use super::{CoreError, Effect, MasterCore, Subscribed};

impl MasterCore {
    /// SUBSCRIBE on a new stream `stream_id`. On success the SUBSCRIBED event (and any
    /// redelivered state) has been emitted for the framework; on error the caller sends the
    /// message as an ERROR event and closes the stream, as Mesos does after a 200.
    pub fn subscribe(
        &mut self,
        subscribe: call::Subscribe,
        stream_id: &str,
        now: Time,
    ) -> Result<Subscribed, String> {
        let mut info = subscribe.framework_info;
        let roles = framework_roles(&info);
        if roles.is_empty() {
            return Err("Framework must subscribe with at least one role".to_string());
        }
        for role in &roles {
            corral_resources::validate_role(role).map_err(|e| format!("Invalid role: {e}"))?;
        }
        super::failover::validate_failover_timeout(&info)?;
        let requested_id = info.id.as_ref().map(|id| id.value.clone());
        if let Some(id) = &requested_id {
            if self.completed_frameworks.iter().any(|f| &f.id == id) {
                return Err("Framework has been removed".to_string());
            }
        }
        let framework_id = match requested_id {
            Some(id) => id,
            None => {
                let id = format!("{}-{:04}", self.info.id, self.next_framework);
                self.next_framework += 1;
                id
            }
        };
        info.id = Some(v1::FrameworkId {
            value: framework_id.clone(),
        });
        let suppressed: Vec<String> = subscribe.suppressed_roles;

        if let Some(existing) = self.frameworks.get_mut(&framework_id) {
            // Re-subscription: a newer stream always wins.
            // As Mesos (`FrameworkPrincipalChangeFails`): an unset principal counts as "".
            if existing.info.principal.as_deref().unwrap_or("")
                != info.principal.as_deref().unwrap_or("")
            {
                return Err("Changing framework's principal is not allowed".to_string());
            }
            // `user` and `checkpoint` keep their old values, as in Mesos.
            info.user = existing.info.user.clone();
            info.checkpoint = existing.info.checkpoint;
            let was_connected = existing.connected();
            existing.info = info;
            existing.roles = roles.clone();
            existing.suppressed_roles = suppressed.iter().cloned().collect();
            existing.connection = Connection::Connected {
                stream_id: stream_id.to_string(),
            };
            existing.reregistered_time = Some(now);
            existing.recovered = false;
            if was_connected {
                // Close the old stream; the runtime replaces the stream with the new one.
                tracing::info!(framework_id, "framework re-subscribed on a new stream");
            }
            let spec =
                super::records::framework_spec(&self.frameworks[&framework_id].info, &suppressed);
            self.allocator.update_framework(&framework_id, &spec);
            self.allocator.activate_framework(&framework_id);
            // Outstanding offers were sent on the old stream; rescind them so the scheduler is
            // not left holding offers it never saw.
            let offers: Vec<String> = self.frameworks[&framework_id]
                .offers
                .iter()
                .cloned()
                .collect();
            for offer_id in offers {
                self.remove_offer(&offer_id, None, now);
            }
        } else {
            tracing::info!(framework_id, name = %info.name, "framework subscribed");
            let framework = Framework {
                id: framework_id.clone(),
                info,
                connection: Connection::Connected {
                    stream_id: stream_id.to_string(),
                },
                roles: roles.clone(),
                suppressed_roles: suppressed.iter().cloned().collect(),
                registered_time: now,
                reregistered_time: None,
                unregistered_time: None,
                tasks: BTreeSet::new(),
                completed_tasks: VecDeque::new(),
                offers: BTreeSet::new(),
                executors: BTreeMap::new(),
                recovered: false,
            };
            let spec = super::records::framework_spec(&framework.info, &suppressed);
            self.frameworks.insert(framework_id.clone(), framework);
            self.allocator.add_framework(&framework_id, &spec);
        }

        let subscribed = Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                framework_id: v1::FrameworkId {
                    value: framework_id.clone(),
                },
                heartbeat_interval_seconds: Some(self.config.heartbeat_interval_secs),
                master_info: Some(self.info.clone()),
            }),
            ..Default::default()
        };
        // Durable before the scheduler hears SUBSCRIBED (the runtime applies effects in order).
        self.persist_framework(&framework_id);
        self.send_event(&framework_id, subscribed);
        self.redeliver_unacknowledged(&framework_id);
        self.allocation_pending = true;
        Ok(Subscribed { framework_id })
    }

    /// Check that a non-SUBSCRIBE call comes from the framework's current stream.
    pub fn check_caller(
        &self,
        framework_id: &str,
        stream_id: Option<&str>,
    ) -> Result<(), CoreError> {
        let Some(f) = self.frameworks.get(framework_id) else {
            return Err(CoreError::UnknownFramework(framework_id.to_string()));
        };
        match (&f.connection, stream_id) {
            (Connection::Connected { stream_id: current }, Some(given)) if current == given => {
                Ok(())
            }
            (Connection::Connected { .. }, Some(_)) => Err(CoreError::StreamMismatch(
                "The stream ID included in this request didn't match the stream ID currently \
                 associated with framework ID"
                    .to_string(),
            )),
            (Connection::Connected { .. }, None) => Err(CoreError::StreamMismatch(
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header".to_string(),
            )),
            (Connection::Disconnected { .. }, _) => Err(CoreError::NotSubscribed(
                "Framework is not subscribed".to_string(),
            )),
        }
    }

    /// Every scheduler call but SUBSCRIBE (already checked with [`Self::check_caller`]).
    pub fn scheduler_call(
        &mut self,
        framework_id: &str,
        call: Call,
        now: Time,
    ) -> Result<(), CoreError> {
        use call::Type as T;
        let Some(kind) = call.r#type.and_then(|t| T::try_from(t).ok()) else {
            return Err(CoreError::Invalid(
                "Expecting 'type' to be present".to_string(),
            ));
        };
        match kind {
            T::Teardown => self.remove_framework(framework_id, now),
            T::Accept => {
                let accept = call.accept.ok_or_else(|| missing("accept"))?;
                self.accept(framework_id, accept, now);
            }
            T::Decline => {
                let decline = call.decline.ok_or_else(|| missing("decline"))?;
                let refuse = decline
                    .filters
                    .as_ref()
                    .map(|f| f.refuse_seconds())
                    .unwrap_or(5.0);
                for offer_id in decline.offer_ids {
                    if self.owned_offer(framework_id, &offer_id.value) {
                        self.counters.offers_declined += 1;
                        self.remove_offer(&offer_id.value, Some(refuse), now);
                    }
                }
            }
            T::Revive => {
                let roles = call.revive.map(|r| r.roles).unwrap_or_default();
                self.allocator.revive(framework_id, &roles);
                if let Some(f) = self.frameworks.get_mut(framework_id) {
                    if roles.is_empty() {
                        f.suppressed_roles.clear();
                    } else {
                        for r in &roles {
                            f.suppressed_roles.remove(r);
                        }
                    }
                }
                self.allocation_pending = true;
            }
            T::Suppress => {
                let roles = call.suppress.map(|s| s.roles).unwrap_or_default();
                self.allocator.suppress(framework_id, &roles);
                if let Some(f) = self.frameworks.get_mut(framework_id) {
                    let roles = if roles.is_empty() {
                        f.roles.clone()
                    } else {
                        roles
                    };
                    f.suppressed_roles.extend(roles);
                }
            }
            T::Kill => {
                let kill = call.kill.ok_or_else(|| missing("kill"))?;
                self.kill(framework_id, kill, now);
            }
            T::Shutdown => {
                let shutdown = call.shutdown.ok_or_else(|| missing("shutdown"))?;
                self.emit(Effect::ToAgent {
                    agent_id: shutdown.agent_id.value,
                    message: MasterMessage::ShutdownExecutor {
                        framework_id: fid(framework_id),
                        executor_id: shutdown.executor_id,
                    },
                });
            }
            T::Acknowledge => {
                let ack = call.acknowledge.ok_or_else(|| missing("acknowledge"))?;
                self.acknowledge(framework_id, ack)?;
            }
            T::Reconcile => {
                let reconcile = call.reconcile.unwrap_or_default();
                self.reconcile(framework_id, reconcile, now);
            }
            T::Message => {
                let message = call.message.ok_or_else(|| missing("message"))?;
                self.emit(Effect::ToAgent {
                    agent_id: message.agent_id.value,
                    message: MasterMessage::FrameworkMessage {
                        framework_id: fid(framework_id),
                        executor_id: message.executor_id,
                        data: message.data,
                    },
                });
            }
            T::UpdateFramework => {
                let update = call
                    .update_framework
                    .ok_or_else(|| missing("update_framework"))?;
                self.update_framework(framework_id, update)?;
            }
            T::AcceptInverseOffers => {
                let a = call
                    .accept_inverse_offers
                    .ok_or_else(|| missing("accept_inverse_offers"))?;
                let refuse = a.filters.as_ref().map(|f| f.refuse_seconds());
                self.answer_inverse_offers(framework_id, &a.inverse_offer_ids, true, refuse, now);
            }
            T::DeclineInverseOffers => {
                let d = call
                    .decline_inverse_offers
                    .ok_or_else(|| missing("decline_inverse_offers"))?;
                let refuse = d.filters.as_ref().map(|f| f.refuse_seconds());
                self.answer_inverse_offers(framework_id, &d.inverse_offer_ids, false, refuse, now);
            }
            // Accepted and, for now, without effect: the first allocator ignores REQUEST, and
            // there are no offer operations with feedback yet.
            T::Request | T::AcknowledgeOperationStatus | T::ReconcileOperations => {}
            T::Subscribe => {
                return Err(CoreError::Invalid(
                    "SUBSCRIBE must open its own stream".to_string(),
                ))
            }
            T::Unknown => return Err(CoreError::Invalid("Unknown call type".to_string())),
        }
        Ok(())
    }

    pub(crate) fn owned_offer(&self, framework_id: &str, offer_id: &str) -> bool {
        self.offers
            .get(offer_id)
            .is_some_and(|o| o.framework_id == framework_id)
    }

    fn update_framework(
        &mut self,
        framework_id: &str,
        update: call::UpdateFramework,
    ) -> Result<(), CoreError> {
        let mut info = update.framework_info;
        if info.id.as_ref().map(|i| i.value.as_str()) != Some(framework_id) {
            return Err(CoreError::Invalid(
                "'framework_info.id' must match the framework sending the call".to_string(),
            ));
        }
        super::failover::validate_failover_timeout(&info).map_err(CoreError::Invalid)?;
        let roles = framework_roles(&info);
        for role in &roles {
            corral_resources::validate_role(role)
                .map_err(|e| CoreError::Invalid(format!("Invalid role: {e}")))?;
        }
        let Some(f) = self.frameworks.get_mut(framework_id) else {
            return Err(CoreError::UnknownFramework(framework_id.to_string()));
        };
        if f.info.principal != info.principal {
            return Err(CoreError::Invalid(
                "Changing framework's principal is not allowed".to_string(),
            ));
        }
        info.user = f.info.user.clone();
        info.checkpoint = f.info.checkpoint;
        f.info = info;
        f.roles = roles.clone();
        f.suppressed_roles = update.suppressed_roles.iter().cloned().collect();
        let spec = super::records::framework_spec(&f.info, &update.suppressed_roles);
        self.allocator.update_framework(framework_id, &spec);
        self.allocation_pending = true;
        Ok(())
    }

    fn kill(&mut self, framework_id: &str, kill: call::Kill, now: Time) {
        let key = (framework_id.to_string(), kill.task_id.value.clone());
        match self.tasks.get(&key) {
            Some(record) if !record.terminal => {
                let agent_id = record.task.agent_id.value.clone();
                self.emit(Effect::ToAgent {
                    agent_id,
                    message: MasterMessage::KillTask {
                        framework_id: fid(framework_id),
                        task_id: kill.task_id,
                        kill_policy: kill.kill_policy,
                    },
                });
            }
            Some(_) => {}
            None => {
                // Unknown task: answer as an explicit reconciliation would.
                let task = call::reconcile::Task {
                    task_id: kill.task_id,
                    agent_id: kill.agent_id,
                };
                self.reconcile(framework_id, call::Reconcile { tasks: vec![task] }, now);
            }
        }
    }

    fn acknowledge(&mut self, framework_id: &str, ack: call::Acknowledge) -> Result<(), CoreError> {
        if ack.uuid.len() != 16 {
            return Err(CoreError::Invalid(format!(
                "Failed to validate scheduler::Call: 'uuid' must be 16 bytes, got {}",
                ack.uuid.len()
            )));
        }
        self.note_acknowledged(framework_id, &ack.task_id.value, &ack.uuid);
        let key = (framework_id.to_string(), ack.task_id.value.clone());
        if let Some(record) = self.tasks.get(&key) {
            let acked_terminal = record.terminal
                && record.task.status_update_uuid.as_deref() == Some(ack.uuid.as_slice());
            if acked_terminal {
                self.complete_task(framework_id, &ack.task_id.value);
            }
        }
        self.emit(Effect::ToAgent {
            agent_id: ack.agent_id.value,
            message: MasterMessage::StatusUpdateAcknowledgement {
                framework_id: fid(framework_id),
                task_id: ack.task_id,
                uuid: ack.uuid,
            },
        });
        Ok(())
    }
}

fn missing(field: &str) -> CoreError {
    CoreError::Invalid(format!("Expecting '{field}' to be present"))
}
