//! [`SchedulerHandle`]: the calls of a subscribed framework.

use std::sync::Arc;
use std::time::Duration;

use corral_api::v1::offer::Operation;
use corral_api::v1::scheduler::{Call, Event};
use corral_api::v1::{
    AgentId, Filters, FrameworkId, FrameworkInfo, KillPolicy, MasterInfo, OfferId, TaskId,
    TaskInfo, TaskStatus,
};
use corral_http::Encoding;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::{calls, subscribe_to, SubscribeOptions, SCHEDULER_PATH};
use crate::endpoint::{DetectedLeader, Endpoint};
use crate::error::ClientError;
use crate::stream::EventStream;
use crate::transport::{self, Http, STREAM_ID};

/// A subscribed framework: sends calls on the subscription's stream id. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SchedulerHandle {
    pub(super) inner: Arc<HandleInner>,
}

#[derive(Debug)]
pub(super) struct HandleInner {
    pub(super) http: Http,
    pub(super) masters: Vec<Endpoint>,
    pub(super) leader: Endpoint,
    pub(super) stream_id: String,
    pub(super) framework_id: FrameworkId,
    pub(super) framework_info: FrameworkInfo,
    pub(super) master_info: Option<MasterInfo>,
    /// The leader detection of a `zk://` subscription.
    pub(super) detected: Option<DetectedLeader>,
    pub(super) heartbeat: Duration,
    pub(super) options: SubscribeOptions,
}

impl SchedulerHandle {
    /// The framework's id (assigned by the master on first subscription).
    pub fn framework_id(&self) -> &FrameworkId {
        &self.inner.framework_id
    }

    /// The subscription's `Mesos-Stream-Id`.
    pub fn stream_id(&self) -> &str {
        &self.inner.stream_id
    }

    /// The master that accepted the subscription.
    pub fn leader(&self) -> &Endpoint {
        &self.inner.leader
    }

    /// The leader's `MasterInfo`, from `SUBSCRIBED`.
    pub fn master_info(&self) -> Option<&MasterInfo> {
        self.inner.master_info.as_ref()
    }

    /// The heartbeat interval the master advertised.
    pub fn heartbeat_interval(&self) -> Duration {
        self.inner.heartbeat
    }

    /// Sends `call` (its `framework_id` is filled in when missing). `200`/`202` are success;
    /// any other answer is a [`ClientError::Status`] with the body.
    pub async fn call(&self, mut call: Call) -> Result<(), ClientError> {
        if call.framework_id.is_none() {
            call.framework_id = Some(self.inner.framework_id.clone());
        }
        let mut headers = HeaderMap::new();
        let stream_id = HeaderValue::from_str(&self.inner.stream_id)
            .map_err(|_| ClientError::MissingStreamId)?;
        headers.insert(STREAM_ID, stream_id);
        let body = corral_http::encode(Encoding::Json, &call);
        let (status, _, reply) = self
            .inner
            .http
            .post_json(&self.inner.leader, SCHEDULER_PATH, headers, body)
            .await?;
        if status == StatusCode::ACCEPTED || status == StatusCode::OK {
            Ok(())
        } else {
            Err(transport::status_error(
                &self.inner.leader.url(SCHEDULER_PATH),
                status,
                &reply,
            ))
        }
    }

    /// ACCEPT `offer_ids` with `operations`.
    pub async fn accept(
        &self,
        offer_ids: Vec<OfferId>,
        operations: Vec<Operation>,
        filters: Option<Filters>,
    ) -> Result<(), ClientError> {
        self.call(calls::accept(
            self.framework_id(),
            offer_ids,
            operations,
            filters,
        ))
        .await
    }

    /// ACCEPT `offer_ids` with one LAUNCH of `tasks`.
    pub async fn launch(
        &self,
        offer_ids: Vec<OfferId>,
        tasks: Vec<TaskInfo>,
        filters: Option<Filters>,
    ) -> Result<(), ClientError> {
        self.accept(offer_ids, vec![calls::launch(tasks)], filters)
            .await
    }

    /// DECLINE `offer_ids`.
    pub async fn decline(
        &self,
        offer_ids: Vec<OfferId>,
        filters: Option<Filters>,
    ) -> Result<(), ClientError> {
        self.call(calls::decline(self.framework_id(), offer_ids, filters))
            .await
    }

    /// ACKNOWLEDGE `status` if it needs it (carries a uuid); `Ok(false)` when it does not.
    pub async fn acknowledge(&self, status: &TaskStatus) -> Result<bool, ClientError> {
        match calls::acknowledge(self.framework_id(), status) {
            Some(call) => self.call(call).await.map(|()| true),
            None => Ok(false),
        }
    }

    /// KILL a task.
    pub async fn kill(
        &self,
        task_id: TaskId,
        agent_id: Option<AgentId>,
        kill_policy: Option<KillPolicy>,
    ) -> Result<(), ClientError> {
        self.call(calls::kill(
            self.framework_id(),
            task_id,
            agent_id,
            kill_policy,
        ))
        .await
    }

    /// REVIVE offers for `roles` (empty: all).
    pub async fn revive(&self, roles: Vec<String>) -> Result<(), ClientError> {
        self.call(calls::revive(self.framework_id(), roles)).await
    }

    /// SUPPRESS offers for `roles` (empty: all).
    pub async fn suppress(&self, roles: Vec<String>) -> Result<(), ClientError> {
        self.call(calls::suppress(self.framework_id(), roles)).await
    }

    /// RECONCILE `tasks` (empty: implicit reconciliation).
    pub async fn reconcile(
        &self,
        tasks: Vec<(TaskId, Option<AgentId>)>,
    ) -> Result<(), ClientError> {
        self.call(calls::reconcile(self.framework_id(), tasks))
            .await
    }

    /// TEARDOWN the framework: its tasks are killed and it is removed.
    pub async fn teardown(&self) -> Result<(), ClientError> {
        self.call(calls::teardown(self.framework_id())).await
    }

    /// Subscribes again as the same framework (same id and FrameworkInfo), trying the
    /// detected leader (for a `zk://` subscription) or else the last leader first. The old
    /// stream is closed by the master.
    pub async fn resubscribe(&self) -> Result<(SchedulerHandle, EventStream<Event>), ClientError> {
        let info = FrameworkInfo {
            id: Some(self.inner.framework_id.clone()),
            ..self.inner.framework_info.clone()
        };
        let detected = self.inner.detected.clone();
        let first = detected
            .as_ref()
            .and_then(DetectedLeader::current)
            .unwrap_or_else(|| self.inner.leader.clone());
        subscribe_to(
            self.inner.masters.clone(),
            Some(first),
            detected,
            info,
            self.inner.options.clone(),
        )
        .await
    }
}
