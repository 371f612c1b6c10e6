//! ZooKeeper backend: key `k` is the znode `<chroot>/registry/k`; our version is the znode's
//! data version + 1.
//!
//! `put(k, v, None)` creates the znode (exists → `Conflict`); `put(k, v, Some(n))` is a
//! `setData` with version `n - 1` (any other version → `Conflict`), which is how a deposed
//! leader is fenced: it cannot overwrite what a newer leader wrote. A ZooKeeper write returns
//! once a quorum has logged (fsynced) it, so `put` is durable when it returns.
//!
//! The [`Store`] trait is synchronous and the ZooKeeper client is async: the client lives on a
//! dedicated thread with its own single-threaded tokio runtime; each call sends the operation
//! there and blocks the calling thread on a std channel until the answer comes back or the
//! operation timeout passes. That is safe from inside another tokio runtime (no nested
//! `block_on`), but it does block that runtime's worker thread for the duration of one
//! ZooKeeper round trip; use `spawn_blocking` for calls in hot async paths.
//!
//! A timeout or connection loss is [`StoreError::Unavailable`], never a success; for writes it
//! means "outcome unknown". Writes are only sent while the session is connected (the client
//! would otherwise queue them and send them after a reconnect, long after we gave up). Reads
//! `sync` first, so they see every write committed before they started, and are retried across
//! connection loss until the operation timeout. An expired session is replaced by a new one
//! on the next call.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;
use zookeeper_client as zk;

use crate::{check_distinct, check_key, Op as StoreOp, Store, StoreError, Versioned, ZkUrl};

/// The largest value [`ZkStore`] accepts. ZooKeeper refuses packets over `jute.maxbuffer`
/// (1 MiB − 1 by default) including the path and framing, so values keep a margin below it.
pub const ZK_MAX_VALUE_BYTES: usize = 1_000_000;

/// How [`ZkStore`] talks to ZooKeeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZkStoreOptions {
    /// ZooKeeper session timeout (Mesos `--zk_session_timeout`, default 10 s).
    pub session_timeout: Duration,
    /// Longest a single store call may take, connecting included (Mesos
    /// `--registry_store_timeout`, default 20 s). Past it the call fails with
    /// [`StoreError::Unavailable`].
    pub operation_timeout: Duration,
}

impl Default for ZkStoreOptions {
    fn default() -> Self {
        Self {
            session_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(20),
        }
    }
}

enum Op {
    Connect,
    Get(String),
    Put(String, Vec<u8>, Option<u64>),
    Delete(String, u64),
    Keys(String),
    /// Writes applied in one ZooKeeper `multi` (all or nothing): `(key, value or None for a
    /// delete, expected)`.
    Batch(Vec<BatchWrite>),
}

/// One write of a batch: `(key, value or None for a delete, expected version)`.
type BatchWrite = (String, Option<Vec<u8>>, Option<u64>);

impl Op {
    /// `(operation, key or prefix)`, for the tracing span.
    fn describe(&self) -> (&'static str, &str) {
        match self {
            Op::Connect => ("connect", ""),
            Op::Get(k) => ("get", k),
            Op::Put(k, _, _) => ("put", k),
            Op::Delete(k, _) => ("delete", k),
            Op::Keys(p) => ("keys", p),
            Op::Batch(writes) => ("batch", writes.first().map_or("", |w| w.0.as_str())),
        }
    }
}

enum Reply {
    Done,
    Value(Option<Versioned>),
    Version(u64),
    Versions(Vec<u64>),
    Keys(Vec<String>),
}

struct Job {
    op: Op,
    deadline: Instant,
    reply: std_mpsc::SyncSender<Result<Reply, StoreError>>,
}

/// A [`Store`] in ZooKeeper. See the module docs for the mapping and the threading.
pub struct ZkStore {
    jobs: mpsc::UnboundedSender<Job>,
    url: ZkUrl,
    options: ZkStoreOptions,
}

impl std::fmt::Debug for ZkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZkStore")
            .field("url", &self.url)
            .field("options", &self.options)
            .finish()
    }
}

fn unavailable(key: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

impl ZkStore {
    /// Connects to the ensemble of `url` and creates `<chroot>/registry` if needed. Blocks
    /// until the session is established; fails with [`StoreError::Unavailable`] if that takes
    /// longer than `options.operation_timeout`.
    pub fn connect(url: &ZkUrl, options: ZkStoreOptions) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| unavailable("<connect>", format!("cannot start a runtime: {e}")))?;
        let (jobs, inbox) = mpsc::unbounded_channel();
        let worker = Worker {
            url: url.clone(),
            base: url.node("registry"),
            session_timeout: options.session_timeout,
            client: None,
        };
        std::thread::Builder::new()
            .name("zk-store".to_string())
            .spawn(move || runtime.block_on(worker.serve(inbox)))
            .map_err(|e| unavailable("<connect>", format!("cannot start a thread: {e}")))?;
        let store = Self {
            jobs,
            url: url.clone(),
            options,
        };
        store.call("<connect>", Op::Connect)?;
        tracing::info!(zk = %url, "ZooKeeper store connected");
        Ok(store)
    }

    /// The URL this store was opened with.
    pub fn url(&self) -> &ZkUrl {
        &self.url
    }

    /// The znode holding `key`.
    pub fn znode(&self, key: &str) -> String {
        format!("{}/{key}", self.url.node("registry"))
    }

    fn call(&self, key: &str, op: Op) -> Result<Reply, StoreError> {
        let timeout = self.options.operation_timeout;
        let (reply, answer) = std_mpsc::sync_channel(1);
        let job = Job {
            op,
            deadline: Instant::now() + timeout,
            reply,
        };
        self.jobs
            .send(job)
            .map_err(|_| unavailable(key, "the ZooKeeper client thread has stopped"))?;
        // The worker answers by the deadline; the margin only covers a stuck worker thread.
        match answer.recv_timeout(timeout + Duration::from_secs(1)) {
            Ok(result) => result,
            Err(_) => Err(unavailable(
                key,
                format!("no answer from ZooKeeper within {timeout:?}"),
            )),
        }
    }
}

impl Store for ZkStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        check_key(key)?;
        match self.call(key, Op::Get(key.to_string()))? {
            Reply::Value(v) => Ok(v),
            _ => Err(unavailable(key, "mismatched reply")),
        }
    }

    fn put(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StoreError> {
        check_key(key)?;
        if value.len() > ZK_MAX_VALUE_BYTES {
            return Err(StoreError::TooLarge {
                key: key.to_string(),
                size: value.len(),
                limit: ZK_MAX_VALUE_BYTES,
            });
        }
        match self.call(key, Op::Put(key.to_string(), value.to_vec(), expected))? {
            Reply::Version(v) => Ok(v),
            _ => Err(unavailable(key, "mismatched reply")),
        }
    }

    fn delete(&self, key: &str, expected: u64) -> Result<(), StoreError> {
        check_key(key)?;
        self.call(key, Op::Delete(key.to_string(), expected))
            .map(|_| ())
    }

    /// One ZooKeeper `multi`: one round trip, applied all or nothing by the ensemble.
    fn batch(&self, ops: &[StoreOp<'_>]) -> Result<Vec<u64>, StoreError> {
        check_distinct(ops)?;
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let mut writes = Vec::with_capacity(ops.len());
        for op in ops {
            match *op {
                StoreOp::Put {
                    key,
                    value,
                    expected,
                } => {
                    if value.len() > ZK_MAX_VALUE_BYTES {
                        return Err(StoreError::TooLarge {
                            key: key.to_string(),
                            size: value.len(),
                            limit: ZK_MAX_VALUE_BYTES,
                        });
                    }
                    writes.push((key.to_string(), Some(value.to_vec()), expected));
                }
                StoreOp::Delete { key, expected } => {
                    writes.push((key.to_string(), None, Some(expected)));
                }
            }
        }
        match self.call(ops[0].key(), Op::Batch(writes))? {
            Reply::Versions(versions) => Ok(versions),
            _ => Err(unavailable(ops[0].key(), "mismatched reply")),
        }
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        match self.call("<keys>", Op::Keys(prefix.to_string()))? {
            Reply::Keys(keys) => Ok(keys),
            _ => Err(unavailable("<keys>", "mismatched reply")),
        }
    }
}

/// The async side, owned by the client thread.
struct Worker {
    url: ZkUrl,
    /// `<chroot>/registry`.
    base: String,
    session_timeout: Duration,
    client: Option<zk::Client>,
}

/// Errors after which the session is gone and a new client is needed.
fn session_lost(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed
    )
}

/// Errors worth retrying a read for (the client reconnects underneath).
fn transient(e: &zk::Error) -> bool {
    session_lost(e)
        || matches!(
            e,
            zk::Error::ConnectionLoss
                | zk::Error::Timeout
                | zk::Error::NoHosts
                | zk::Error::Throttled
        )
}

fn from_zk(key: &str, e: zk::Error) -> StoreError {
    unavailable(key, format!("ZooKeeper: {e}"))
}

fn version_of(key: &str, stat: &zk::Stat) -> Result<u64, StoreError> {
    u64::try_from(stat.version)
        .map(|v| v + 1)
        .map_err(|_| StoreError::Corrupt {
            key: key.to_string(),
            reason: format!("znode has data version {}", stat.version),
        })
}

/// Our version `v` as the znode data version it corresponds to, if it can be one.
fn zk_version(v: u64) -> Option<i32> {
    v.checked_sub(1).and_then(|v| i32::try_from(v).ok())
}

impl Worker {
    async fn serve(mut self, mut inbox: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = inbox.recv().await {
            let (op, key) = job.op.describe();
            let span = tracing::debug_span!("zk_store", op, key = %key, chroot = %self.url.chroot);
            let key = if key.is_empty() {
                format!("<{op}>")
            } else {
                key.to_string()
            };
            let result = tokio::time::timeout_at(job.deadline, self.run(job.op, job.deadline))
                .instrument(span)
                .await
                .unwrap_or_else(|_| {
                    Err(unavailable(
                        &key,
                        "ZooKeeper did not answer before the operation timeout",
                    ))
                });
            // The caller may have given up; nothing to do then.
            let _ = job.reply.send(result);
        }
    }

    fn options(&self) -> zk::CreateOptions<'static> {
        if self.url.credentials.is_some() {
            zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all())
        } else {
            zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
        }
    }

    /// The live client, connecting (and creating the registry node) if there is none.
    async fn client(&mut self) -> Result<zk::Client, zk::Error> {
        if let Some(client) = &self.client {
            if !client.state().is_terminated() {
                return Ok(client.clone());
            }
            tracing::warn!(zk = %self.url, state = ?client.state(), "ZooKeeper session ended; reconnecting");
            self.client = None;
        }
        let mut connector = zk::Client::connector().with_session_timeout(self.session_timeout);
        if let Some(creds) = &self.url.credentials {
            connector = connector.with_auth("digest", creds.as_bytes());
        }
        let client = connector.connect(&self.url.connect_string()).await?;
        client.mkdir(&self.base, &self.options()).await?;
        tracing::debug!(zk = %self.url, session = ?client.session_id(), "ZooKeeper session established");
        self.client = Some(client.clone());
        Ok(client)
    }

    /// The live client once it is connected, for a write. The client queues requests made
    /// while disconnected and sends them after reconnecting, so a write issued then could be
    /// applied long after we reported it unavailable; writes are only sent while connected.
    async fn connected_client(
        &mut self,
        key: &str,
        deadline: Instant,
    ) -> Result<zk::Client, StoreError> {
        loop {
            let client = match self.client().await {
                Ok(client) => client,
                Err(e) => {
                    self.client = None;
                    if transient(&e) && Instant::now() + Duration::from_millis(100) < deadline {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    return Err(from_zk(key, e));
                }
            };
            match client.state() {
                zk::SessionState::SyncConnected => return Ok(client),
                state if Instant::now() + Duration::from_millis(50) < deadline => {
                    tracing::debug!(
                        key,
                        ?state,
                        "waiting for the ZooKeeper connection before writing"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                state => {
                    return Err(unavailable(
                        key,
                        format!("not connected to ZooKeeper ({state:?}); nothing was written"),
                    ))
                }
            }
        }
    }

    fn forget_if_lost(&mut self, e: &zk::Error) {
        if session_lost(e) {
            self.client = None;
        }
    }

    /// Runs an idempotent operation, retrying transient failures until `deadline`.
    async fn retrying<T, F, Fut>(
        &mut self,
        key: &str,
        deadline: Instant,
        f: F,
    ) -> Result<T, StoreError>
    where
        F: Fn(zk::Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, zk::Error>>,
    {
        loop {
            let attempt = match self.client().await {
                Ok(client) => f(client).await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(v) => return Ok(v),
                Err(e)
                    if transient(&e) && Instant::now() + Duration::from_millis(200) < deadline =>
                {
                    tracing::debug!(key, error = %e, "ZooKeeper read failed; retrying");
                    self.forget_if_lost(&e);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    self.forget_if_lost(&e);
                    return Err(from_zk(key, e));
                }
            }
        }
    }

    async fn run(&mut self, op: Op, deadline: Instant) -> Result<Reply, StoreError> {
        match op {
            Op::Connect => self
                .retrying("<connect>", deadline, |_| async { Ok(()) })
                .await
                .map(|()| Reply::Done),
            Op::Get(key) => self.get(&key, deadline).await.map(Reply::Value),
            Op::Keys(prefix) => {
                let base = self.base.clone();
                let children = self
                    .retrying("<keys>", deadline, |c| {
                        let base = base.clone();
                        async move {
                            match c.sync(&base).await {
                                Ok(()) | Err(zk::Error::NoNode) => {}
                                Err(e) => return Err(e),
                            }
                            match c.list_children(&base).await {
                                Err(zk::Error::NoNode) => Ok(Vec::new()),
                                other => other,
                            }
                        }
                    })
                    .await?;
                let mut keys: Vec<String> = children
                    .into_iter()
                    .filter(|k| k.starts_with(&prefix) && check_key(k).is_ok())
                    .collect();
                keys.sort();
                Ok(Reply::Keys(keys))
            }
            Op::Put(key, value, expected) => self
                .put(&key, &value, expected, deadline)
                .await
                .map(Reply::Version),
            Op::Delete(key, expected) => self
                .delete(&key, expected, deadline)
                .await
                .map(|()| Reply::Done),
            Op::Batch(writes) => self.batch(&writes, deadline).await.map(Reply::Versions),
        }
    }

    async fn batch(
        &mut self,
        writes: &[BatchWrite],
        deadline: Instant,
    ) -> Result<Vec<u64>, StoreError> {
        let first = writes.first().map_or("<batch>", |w| w.0.as_str());
        let client = self.connected_client(first, deadline).await?;
        let options = self.options();
        let mut recreated = false;
        loop {
            let mut multi = client.new_multi_writer();
            for (key, value, expected) in writes {
                let path = format!("{}/{key}", self.base);
                let added = match (value, expected.map(zk_version)) {
                    (Some(value), None) => multi.add_create(&path, value, &options),
                    (Some(value), Some(Some(zv))) => multi.add_set_data(&path, value, Some(zv)),
                    (None, Some(Some(zv))) => multi.add_delete(&path, Some(zv)),
                    // A version no znode can have, or a delete of an absent record.
                    (_, Some(None)) | (None, None) => {
                        return Err(self.conflict(key, *expected, deadline).await)
                    }
                };
                added.map_err(|e| from_zk(key, e))?;
            }
            match multi.commit().await {
                Ok(results) => {
                    return writes
                        .iter()
                        .zip(results)
                        .map(|((key, _, _), result)| match result {
                            zk::MultiWriteResult::SetData { stat } => version_of(key, &stat),
                            // A created znode's data version is 0 (its stat may be invalid:
                            // ZOOKEEPER-4026), that is our version 1.
                            zk::MultiWriteResult::Create { .. } => Ok(1),
                            _ => Ok(0),
                        })
                        .collect();
                }
                Err(zk::MultiWriteError::OperationFailed { index, source }) => {
                    let (key, value, expected) = &writes[index.min(writes.len() - 1)];
                    match source {
                        zk::Error::NoNode
                            if value.is_some() && expected.is_none() && !recreated =>
                        {
                            // Someone removed the registry node; recreate it once.
                            client
                                .mkdir(&self.base, &options)
                                .await
                                .map_err(|e| from_zk(key, e))?;
                            recreated = true;
                        }
                        zk::Error::NodeExists | zk::Error::BadVersion | zk::Error::NoNode => {
                            return Err(self.conflict(key, *expected, deadline).await)
                        }
                        e => {
                            self.forget_if_lost(&e);
                            return Err(from_zk(key, e));
                        }
                    }
                }
                Err(zk::MultiWriteError::RequestFailed { source }) => {
                    self.forget_if_lost(&source);
                    return Err(from_zk(first, source));
                }
            }
        }
    }

    async fn get(&mut self, key: &str, deadline: Instant) -> Result<Option<Versioned>, StoreError> {
        let path = format!("{}/{key}", self.base);
        let found = self
            .retrying(key, deadline, |c| {
                let path = path.clone();
                async move {
                    // A server answers reads from its own copy, which may lag the leader:
                    // `sync` first, so a new leader reads what the old one wrote.
                    match c.sync(&path).await {
                        Ok(()) | Err(zk::Error::NoNode) => {}
                        Err(e) => return Err(e),
                    }
                    match c.get_data(&path).await {
                        Ok(found) => Ok(Some(found)),
                        Err(zk::Error::NoNode) => Ok(None),
                        Err(e) => Err(e),
                    }
                }
            })
            .await?;
        found
            .map(|(value, stat)| {
                Ok(Versioned {
                    version: version_of(key, &stat)?,
                    value,
                })
            })
            .transpose()
    }

    /// A `Conflict` reporting what is stored now (best effort: `None` if that read fails).
    async fn conflict(
        &mut self,
        key: &str,
        expected: Option<u64>,
        deadline: Instant,
    ) -> StoreError {
        let found = self
            .get(key, deadline)
            .await
            .ok()
            .flatten()
            .map(|v| v.version);
        StoreError::Conflict {
            key: key.to_string(),
            expected,
            found,
        }
    }

    async fn put(
        &mut self,
        key: &str,
        value: &[u8],
        expected: Option<u64>,
        deadline: Instant,
    ) -> Result<u64, StoreError> {
        let path = format!("{}/{key}", self.base);
        let client = self.connected_client(key, deadline).await?;
        let result = match expected {
            None => {
                let options = self.options();
                let mut created = client.create(&path, value, &options).await;
                if matches!(created, Err(zk::Error::NoNode)) {
                    // Someone removed the registry node; recreate it once.
                    client
                        .mkdir(&self.base, &options)
                        .await
                        .map_err(|e| from_zk(key, e))?;
                    created = client.create(&path, value, &options).await;
                }
                created.map(|(stat, _)| stat)
            }
            Some(v) => match zk_version(v) {
                Some(zv) => client.set_data(&path, value, Some(zv)).await,
                None => Err(zk::Error::BadVersion),
            },
        };
        match result {
            Ok(stat) => version_of(key, &stat),
            Err(zk::Error::NodeExists | zk::Error::BadVersion | zk::Error::NoNode) => {
                Err(self.conflict(key, expected, deadline).await)
            }
            Err(e) => {
                self.forget_if_lost(&e);
                Err(from_zk(key, e))
            }
        }
    }

    async fn delete(
        &mut self,
        key: &str,
        expected: u64,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let path = format!("{}/{key}", self.base);
        let client = self.connected_client(key, deadline).await?;
        let result = match zk_version(expected) {
            Some(zv) => client.delete(&path, Some(zv)).await,
            None => Err(zk::Error::BadVersion),
        };
        match result {
            Ok(()) => Ok(()),
            Err(zk::Error::BadVersion | zk::Error::NoNode) => {
                Err(self.conflict(key, Some(expected), deadline).await)
            }
            Err(e) => {
                self.forget_if_lost(&e);
                Err(from_zk(key, e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn versions_map_to_znode_data_versions() {
        assert_eq!(zk_version(1), Some(0));
        assert_eq!(zk_version(5), Some(4));
        assert_eq!(zk_version(0), None);
        assert_eq!(zk_version(i32::MAX as u64 + 1), Some(i32::MAX));
        assert_eq!(zk_version(i32::MAX as u64 + 2), None);
    }

    #[test]
    fn unreachable_ensemble_is_unavailable_not_success() {
        // Nothing listens on port 1: connecting must fail within the operation timeout.
        let url = ZkUrl::parse("zk://127.0.0.1:1/corral").unwrap();
        let started = std::time::Instant::now();
        let err = ZkStore::connect(
            &url,
            ZkStoreOptions {
                session_timeout: Duration::from_secs(2),
                operation_timeout: Duration::from_millis(1500),
            },
        )
        .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
