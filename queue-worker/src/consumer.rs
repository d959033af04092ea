//! The only file that knows NATS: binds the queue's durable pull consumer, pulls no more
//! messages than there are free slots, runs each through the handler while telling JetStream
//! the call is still in progress, then acks it, naks it with a delay (a retry), or stores it
//! as a dead letter and acks it. On shutdown it stops pulling, lets in-flight calls finish
//! within a bound and naks the rest back to the queue.
//!
//! Retries are naks with a delay rather than re-publishing: the message stays where it is,
//! JetStream keeps the timer (it survives a worker crash) and counts deliveries, which is the
//! attempt number, so nothing extra travels in headers and a retry cannot be lost between
//! publishing the copy and acking the original.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{self, AckKind};
use faas_provider::queue::{ensure_streams, DeadLetter, QueueError, QueueName, REQUEST_STREAM};
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::handler::{Delivery, Handler, Outcome};
use crate::metrics::Metrics;

/// How long one pull request waits on the server for messages before it is renewed.
const PULL_EXPIRES: Duration = Duration::from_secs(2);
/// Wait before trying again after NATS failed us (binding, pulling).
const RECOVERY_WAIT: Duration = Duration::from_secs(1);
/// A dead letter that could not be stored comes back after this long (and is dead-lettered
/// again without calling the function).
const DEAD_LETTER_RETRY: Duration = Duration::from_secs(5);
/// Added to a hand-back delay so the server has surely dropped the old pull request.
const HAND_BACK_MARGIN: Duration = Duration::from_millis(250);
/// How often the pending-messages gauges are refreshed.
const PENDING_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub queue: QueueName,
    pub max_inflight: usize,
    pub ack_wait: Duration,
    pub shutdown_timeout: Duration,
}

pub struct Consumer {
    client: async_nats::Client,
    shared: Arc<Shared>,
    ready: Arc<AtomicBool>,
}

/// What every message's task needs.
struct Shared {
    js: jetstream::Context,
    config: ConsumerConfig,
    handler: Handler,
    metrics: Metrics,
    /// When the latest pull request expires on the server.
    pull_expires_at: Mutex<Instant>,
}

impl Shared {
    fn pull_started(&self) {
        *self.lock_pull() = Instant::now() + PULL_EXPIRES;
    }

    /// The nak for a call handed back on shutdown. The server delivers a nak'ed message at
    /// once to any pull request still open, including this worker's last one, whose
    /// replies nobody reads any more (it would then return only after `ack_wait`): delay the
    /// redelivery until that request has expired.
    fn hand_back(&self) -> AckKind {
        let open_for = self.lock_pull().saturating_duration_since(Instant::now());
        if open_for.is_zero() {
            AckKind::Nak(None)
        } else {
            AckKind::Nak(Some(open_for + HAND_BACK_MARGIN))
        }
    }

    fn lock_pull(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.pull_expires_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

impl Consumer {
    pub fn new(
        client: async_nats::Client,
        config: ConsumerConfig,
        handler: Handler,
        metrics: Metrics,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                js: jetstream::new(client.clone()),
                config,
                handler,
                metrics,
                pull_expires_at: Mutex::new(Instant::now()),
            }),
            client,
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    /// True while the consumer is bound and NATS is connected (for `/healthz`).
    pub fn health(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let ready = self.ready.clone();
        let client = self.client.clone();
        move || {
            ready.load(Ordering::Relaxed)
                && client.connection_state() == async_nats::connection::State::Connected
        }
    }

    /// Consumes until `shutdown` resolves, then drains (see the module comment).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let cfg = &self.shared.config;
        let bound = tokio::select! {
            () = &mut shutdown => None,
            bound = self.bind_until_ok() => Some(bound),
        };
        let Some((stream, consumer)) = bound else {
            return;
        };
        self.ready.store(true, Ordering::Relaxed);
        tracing::info!(queue = %cfg.queue, durable = %cfg.queue.durable(), max_inflight = cfg.max_inflight, "consuming");
        let pending = tokio::spawn(report_pending(
            stream,
            cfg.queue.clone(),
            self.shared.metrics.clone(),
        ));

        let tasks = TaskTracker::new();
        let cancel = CancellationToken::new();
        let slots = Arc::new(Semaphore::new(cfg.max_inflight));
        'pull: loop {
            let first = tokio::select! {
                biased;
                () = &mut shutdown => break,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let mut permits = vec![first];
            while let Ok(p) = slots.clone().try_acquire_owned() {
                permits.push(p);
            }
            self.shared.pull_started();
            let batch = consumer
                .batch()
                .max_messages(permits.len())
                .expires(PULL_EXPIRES)
                .messages();
            // Not raced against shutdown: once the request is sent, its batch must be read
            // (or handed back), so sending it is let finish.
            let mut batch = match batch.await {
                Ok(b) => b,
                Err(error) => {
                    tracing::warn!(queue = %cfg.queue, %error, "pull request failed");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(RECOVERY_WAIT) => continue,
                    }
                }
            };
            loop {
                let next = tokio::select! {
                    biased;
                    () = &mut shutdown => {
                        // The pull request stays open on the server until it expires;
                        // what it still delivers is handed back rather than left to time out.
                        tasks.spawn(hand_back_batch(self.shared.clone(), batch, cancel.clone()));
                        break 'pull;
                    }
                    m = batch.next() => m,
                };
                match next {
                    None => break,
                    Some(Err(error)) => {
                        tracing::debug!(queue = %cfg.queue, %error, "pull ended");
                        break;
                    }
                    Some(Ok(message)) => {
                        // The server never sends more than requested; a surplus message is
                        // handed straight back.
                        let Some(permit) = permits.pop() else {
                            let _ = message.ack_with(AckKind::Nak(None)).await;
                            continue;
                        };
                        tasks.spawn(process(
                            self.shared.clone(),
                            message,
                            permit,
                            cancel.clone(),
                        ));
                    }
                }
            }
        }

        self.ready.store(false, Ordering::Relaxed);
        tasks.close();
        let running = tasks.len();
        if running > 0 {
            tracing::info!(running, timeout = ?cfg.shutdown_timeout, "waiting for in-flight calls");
        }
        if tokio::time::timeout(cfg.shutdown_timeout, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = tasks.len(),
                "in-flight calls handed back to the queue"
            );
            cancel.cancel();
            tasks.wait().await;
        }
        // Acks are buffered by the client; send them before the process exits.
        if let Err(error) = self.client.flush().await {
            tracing::warn!(%error, "flushing acks failed; those calls will be redelivered");
        }
        pending.abort();
        tracing::info!(queue = %cfg.queue, "stopped consuming");
    }

    async fn bind_until_ok(&self) -> (jetstream::stream::Stream, PullConsumer) {
        loop {
            match self.bind().await {
                Ok(bound) => return bound,
                Err(error) => {
                    tracing::warn!(queue = %self.shared.config.queue, %error, "cannot bind the consumer yet; retrying");
                    tokio::time::sleep(RECOVERY_WAIT).await;
                }
            }
        }
    }

    /// Creates the streams if needed and the queue's durable consumer, or updates its
    /// settings when this worker's differ.
    async fn bind(&self) -> Result<(jetstream::stream::Stream, PullConsumer), QueueError> {
        let js = &self.shared.js;
        let cfg = &self.shared.config;
        ensure_streams(js).await?;
        let stream = js
            .get_stream(REQUEST_STREAM)
            .await
            .map_err(|e| QueueError::JetStream {
                operation: "looking up the stream",
                reason: e.to_string(),
            })?;
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(cfg.queue.durable()),
                description: Some(format!("ironfaas queue-workers of queue {}", cfg.queue)),
                filter_subject: cfg.queue.subject(),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                ack_wait: cfg.ack_wait,
                // Attempts are counted and capped by the worker, per function.
                max_deliver: -1,
                // Messages waiting for a retry count as unacknowledged; they must not stop
                // other calls from being delivered. Concurrency is bounded by pulling.
                max_ack_pending: -1,
                ..Default::default()
            })
            .await
            .map_err(|e| QueueError::JetStream {
                operation: "creating the consumer",
                reason: e.to_string(),
            })?;
        Ok((stream, consumer))
    }
}

/// Runs one message through the handler, keeping it from being redelivered while the call
/// runs, then settles it.
async fn process(
    shared: Arc<Shared>,
    message: jetstream::Message,
    _slot: OwnedSemaphorePermit,
    cancel: CancellationToken,
) {
    let queue = shared.config.queue.as_str();
    let (attempt, sequence) = match message.info() {
        Ok(info) => (
            u32::try_from(info.delivered.max(1)).unwrap_or(u32::MAX),
            info.stream_sequence,
        ),
        Err(error) => {
            tracing::warn!(queue, %error, "not a JetStream message; dropped");
            return;
        }
    };
    shared.metrics.received(queue);
    shared.metrics.inflight(queue, 1.0);
    let delivery = Delivery {
        payload: message.payload.clone(),
        attempt,
    };
    let work = shared.handler.process(&delivery);
    let mut work = std::pin::pin!(work);
    let period = (shared.config.ack_wait / 3).max(Duration::from_millis(100));
    let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let outcome = loop {
        tokio::select! {
            biased;
            outcome = &mut work => break Some(outcome),
            () = cancel.cancelled() => break None,
            _ = progress.tick() => {
                if let Err(error) = message.ack_with(AckKind::Progress).await {
                    tracing::debug!(queue, %error, "progress ack failed");
                }
            }
        }
    };
    let settled = match outcome {
        None => message.ack_with(shared.hand_back()).await,
        Some(Outcome::Done) => message.ack().await,
        Some(Outcome::Retry(wait)) => message.ack_with(AckKind::Nak(Some(wait))).await,
        Some(Outcome::DeadLetter(failure)) => {
            let letter = DeadLetter {
                queue: shared.config.queue.clone(),
                function: failure.function,
                status: failure.status,
                error: failure.error,
                attempts: attempt,
                original_sequence: sequence,
                payload: message.payload.clone(),
            };
            match letter.publish(&shared.js).await {
                Ok(()) => message.ack().await,
                Err(error) => {
                    tracing::error!(queue, sequence, %error, "cannot store a dead letter; the call stays queued");
                    message
                        .ack_with(AckKind::Nak(Some(DEAD_LETTER_RETRY)))
                        .await
                }
            }
        }
    };
    if let Err(error) = settled {
        tracing::warn!(queue, sequence, %error, "ack failed; the call will be redelivered");
    }
    shared.metrics.inflight(queue, -1.0);
}

/// Nacks what the last pull request still delivers after shutdown, until it expires.
async fn hand_back_batch(shared: Arc<Shared>, mut batch: pull::Batch, cancel: CancellationToken) {
    loop {
        let next = tokio::select! {
            () = cancel.cancelled() => return,
            m = batch.next() => m,
        };
        match next {
            Some(Ok(message)) => {
                if let Err(error) = message.ack_with(shared.hand_back()).await {
                    tracing::debug!(%error, "hand-back nak failed");
                }
            }
            _ => return,
        }
    }
}

/// Refreshes the pending gauges from the consumer's info until aborted.
async fn report_pending(stream: jetstream::stream::Stream, queue: QueueName, metrics: Metrics) {
    let durable = queue.durable();
    let mut tick = tokio::time::interval(PENDING_INTERVAL);
    loop {
        tick.tick().await;
        match stream.consumer_info(&durable).await {
            Ok(info) => metrics.pending(
                queue.as_str(),
                info.num_pending,
                u64::try_from(info.num_ack_pending).unwrap_or_default(),
            ),
            Err(error) => tracing::debug!(%queue, %error, "consumer info unavailable"),
        }
    }
}
