//! Replica choice: each function's ready endpoints from the provider (cached briefly, refreshed
//! after a failure), the least-busy replica, and scale from zero when there is none (§2.7).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use faas_provider::memory::SCALE_MIN_LABEL;
use faas_provider::types::FunctionStatus;
use faas_provider::{FunctionName, Provider, ProviderError};

use crate::error::{chain, InvokeError};

/// How long a list of ready endpoints is trusted before it is asked for again.
pub const ENDPOINTS_TTL: Duration = Duration::from_secs(1);
/// How often a cold start asks whether a replica is ready.
const COLD_START_POLL: Duration = Duration::from_millis(50);

/// One ready replica, with the calls it is serving now (shared by all worker threads).
#[derive(Debug)]
pub struct Replica {
    pub address: String,
    in_flight: AtomicUsize,
}

impl Replica {
    fn new(address: String) -> Self {
        Self {
            address,
            in_flight: AtomicUsize::new(0),
        }
    }

    fn load(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// A call counted against its replica until dropped.
#[derive(Debug)]
pub struct InFlight(Arc<Replica>);

impl InFlight {
    fn new(replica: Arc<Replica>) -> Self {
        replica.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(replica)
    }

    pub fn replica(&self) -> &Replica {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

type ReplicaList = Arc<[Arc<Replica>]>;

struct Snapshot {
    replicas: ReplicaList,
    fetched: Instant,
    stale: bool,
    /// When the last cold start got a ready replica.
    cold_start_done: Option<Instant>,
}

struct Function {
    snapshot: Mutex<Snapshot>,
    /// Held while asking the provider, so concurrent callers ask (and scale) once.
    refresh: tokio::sync::Mutex<()>,
    /// Rotates the starting point among equally busy replicas.
    next: AtomicUsize,
}

impl Function {
    fn new() -> Self {
        Self {
            snapshot: Mutex::new(Snapshot {
                replicas: Arc::new([]),
                fetched: Instant::now(),
                stale: true,
                cold_start_done: None,
            }),
            refresh: tokio::sync::Mutex::new(()),
            next: AtomicUsize::new(0),
        }
    }

    fn snapshot(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.snapshot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the list, keeping the in-flight counts of replicas that remain.
    fn store(&self, addresses: Vec<String>) -> ReplicaList {
        let mut s = self.snapshot();
        let replicas: ReplicaList = addresses
            .into_iter()
            .map(|a| {
                s.replicas
                    .iter()
                    .find(|r| r.address == a)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Replica::new(a)))
            })
            .collect();
        s.replicas = replicas.clone();
        s.fetched = Instant::now();
        s.stale = false;
        replicas
    }
}

/// The replicas a call may use.
pub struct Ready {
    function: Arc<Function>,
    pub replicas: ReplicaList,
    /// How long this call waited for a cold start, if it did.
    pub cold_start: Option<Duration>,
}

impl Ready {
    /// The least-busy replica not yet `tried`; ties rotate so idle replicas share the calls.
    pub fn pick(&self, tried: &[String]) -> Option<InFlight> {
        let n = self.replicas.len();
        let start = self.function.next.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<&Arc<Replica>> = None;
        for i in 0..n {
            let r = &self.replicas[(start + i) % n];
            if tried.contains(&r.address) {
                continue;
            }
            if best.is_none_or(|b| r.load() < b.load()) {
                best = Some(r);
            }
        }
        best.map(|r| InFlight::new(r.clone()))
    }

    /// A replica refused a connection: the next caller asks the provider again.
    pub fn replica_failed(&self) {
        self.function.snapshot().stale = true;
    }
}

pub struct Balancer {
    provider: Arc<dyn Provider>,
    functions: RwLock<HashMap<FunctionName, Arc<Function>>>,
    scale_from_zero: bool,
    cold_start_timeout: Duration,
}

impl Balancer {
    pub fn new(
        provider: Arc<dyn Provider>,
        scale_from_zero: bool,
        cold_start_timeout: Duration,
    ) -> Self {
        Self {
            provider,
            functions: RwLock::default(),
            scale_from_zero,
            cold_start_timeout,
        }
    }

    fn function(&self, name: &FunctionName) -> Arc<Function> {
        if let Some(f) = self
            .functions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            return f.clone();
        }
        self.functions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.clone())
            .or_insert_with(|| Arc::new(Function::new()))
            .clone()
    }

    fn forget(&self, name: &FunctionName) {
        self.functions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// Empties the cached list so the next `ready` asks the provider (and scales from zero if
    /// the function has no replica any more).
    pub fn invalidate(&self, name: &FunctionName) {
        let f = self.function(name);
        let mut s = f.snapshot();
        s.replicas = Arc::new([]);
        s.stale = true;
    }

    /// The ready replicas of `name`: from the cache when fresh; otherwise asked for, one caller
    /// at a time; after a scale from zero when there are none and `scale_from_zero` is on
    /// (`cold_started` then gets how long the function took to get a ready replica).
    pub async fn ready(
        &self,
        name: &FunctionName,
        cold_started: impl FnOnce(Duration),
    ) -> Result<Ready, InvokeError> {
        let waiting_since = Instant::now();
        let f = self.function(name);
        let ready = |replicas: ReplicaList, cold_start: Option<Duration>| Ready {
            function: f.clone(),
            replicas,
            cold_start,
        };
        let stale = {
            let s = f.snapshot();
            if !s.replicas.is_empty() && !s.stale && s.fetched.elapsed() < ENDPOINTS_TTL {
                return Ok(ready(s.replicas.clone(), None));
            }
            (!s.replicas.is_empty()).then(|| s.replicas.clone())
        };
        if let Some(stale) = stale {
            // One caller refreshes a stale list; the others keep using it meanwhile.
            let Ok(_refreshing) = f.refresh.try_lock() else {
                return Ok(ready(stale, None));
            };
            match self.fetch(name, &f).await {
                Ok(fresh) if !fresh.is_empty() => return Ok(ready(fresh, None)),
                Ok(_) => {}
                Err(InvokeError::Lookup { source, .. }) => {
                    tracing::warn!(function = %name, error = %chain(&source), "endpoint refresh failed; using the previous list");
                    return Ok(ready(stale, None));
                }
                Err(e) => return Err(e),
            }
        }
        let deadline = waiting_since + self.cold_start_timeout;
        let timed_out = || InvokeError::ColdStartTimeout {
            function: name.to_string(),
            timeout: self.cold_start_timeout,
        };
        let _refreshing = tokio::time::timeout_at(deadline.into(), f.refresh.lock())
            .await
            .map_err(|_| timed_out())?;
        {
            // Someone else may have refreshed (or cold-started) while this call waited.
            let s = f.snapshot();
            if !s.replicas.is_empty() && !s.stale && s.fetched.elapsed() < ENDPOINTS_TTL {
                let cold = s
                    .cold_start_done
                    .is_some_and(|done| done > waiting_since)
                    .then(|| waiting_since.elapsed());
                return Ok(ready(s.replicas.clone(), cold));
            }
        }
        let replicas = self.fetch(name, &f).await?;
        if !replicas.is_empty() {
            return Ok(ready(replicas, None));
        }
        if !self.scale_from_zero {
            return Err(InvokeError::NoReplicas(name.to_string()));
        }
        let started = Instant::now();
        self.scale_up(name).await?;
        loop {
            if Instant::now() + COLD_START_POLL > deadline {
                return Err(timed_out());
            }
            tokio::time::sleep(COLD_START_POLL).await;
            let replicas = self.fetch(name, &f).await?;
            if !replicas.is_empty() {
                cold_started(started.elapsed());
                f.snapshot().cold_start_done = Some(Instant::now());
                tracing::info!(function = %name, seconds = started.elapsed().as_secs_f64(), "scaled from zero");
                return Ok(ready(replicas, Some(waiting_since.elapsed())));
            }
        }
    }

    async fn fetch(&self, name: &FunctionName, f: &Function) -> Result<ReplicaList, InvokeError> {
        match self.provider.endpoints(name).await {
            Ok(e) => Ok(f.store(e.endpoints.into_iter().map(|e| e.address).collect())),
            Err(ProviderError::FunctionNotFound(_)) => {
                self.forget(name);
                Err(InvokeError::FunctionNotFound(name.to_string()))
            }
            Err(source) => Err(InvokeError::Lookup {
                function: name.to_string(),
                source,
            }),
        }
    }

    /// Scales to the function's minimum (at least 1) unless replicas are already on the way.
    async fn scale_up(&self, name: &FunctionName) -> Result<(), InvokeError> {
        let status = self.provider.get(name).await.map_err(|e| match e {
            ProviderError::FunctionNotFound(_) => InvokeError::FunctionNotFound(name.to_string()),
            source => InvokeError::Lookup {
                function: name.to_string(),
                source,
            },
        })?;
        if status.replicas > 0 {
            return Ok(());
        }
        let replicas = min_replicas(&status);
        tracing::info!(function = %name, replicas, "scaling from zero");
        self.provider
            .scale(name, replicas)
            .await
            .map_err(|source| InvokeError::ScaleFromZero {
                function: name.to_string(),
                source,
            })
    }
}

/// `com.openfaas.scale.min`, at least 1 (OpenFaaS treats absent, invalid and 0 as 1).
pub fn min_replicas(status: &FunctionStatus) -> u64 {
    status
        .labels
        .get(SCALE_MIN_LABEL)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use faas_provider::memory::InMemoryProvider;
    use faas_provider::types::FunctionDeployment;

    use super::*;

    fn ignore(_: Duration) {}

    #[test]
    fn min_replicas_table() {
        let status = |v: Option<&str>| {
            let mut s = FunctionStatus::default();
            if let Some(v) = v {
                s.labels.insert(SCALE_MIN_LABEL.into(), v.into());
            }
            s
        };
        for (label, want) in [
            (None, 1),
            (Some("3"), 3),
            (Some("0"), 1),
            (Some("x"), 1),
            (Some(" 2 "), 2),
        ] {
            assert_eq!(min_replicas(&status(label)), want, "{label:?}");
        }
    }

    async fn setup(addresses: &[&str]) -> (Balancer, InMemoryProvider, FunctionName) {
        let provider = InMemoryProvider::new("openfaas-fn");
        let name = FunctionName::parse("echo").unwrap();
        provider
            .deploy(FunctionDeployment {
                service: name.clone(),
                image: "echo".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        provider.set_upstreams(&name, addresses.iter().map(|a| a.to_string()).collect());
        let balancer = Balancer::new(Arc::new(provider.clone()), true, Duration::from_secs(1));
        (balancer, provider, name)
    }

    #[tokio::test]
    async fn least_busy_then_rotation() {
        let (b, _, name) = setup(&["a:1", "b:1"]).await;
        let ready = b.ready(&name, ignore).await.unwrap();
        let first = ready.pick(&[]).unwrap();
        // While `first` is busy every call goes to the other replica.
        for _ in 0..4 {
            let other = ready.pick(&[]).unwrap();
            assert_ne!(other.replica().address, first.replica().address);
        }
        drop(first);
        let picks: Vec<String> = (0..4)
            .map(|_| ready.pick(&[]).unwrap().replica().address.clone())
            .collect();
        assert_eq!(picks.iter().filter(|a| *a == "a:1").count(), 2, "{picks:?}");
        assert!(ready.pick(&["a:1".into(), "b:1".into()]).is_none());
    }

    #[tokio::test]
    async fn cold_start_scales_once_to_the_minimum() {
        let (b, provider, name) = setup(&["a:1"]).await;
        provider.scale(&name, 0).await.unwrap();
        let before = provider.scale_calls();
        let (r1, r2) = tokio::join!(b.ready(&name, ignore), b.ready(&name, ignore));
        assert!(r1.unwrap().cold_start.is_some());
        assert!(r2.unwrap().cold_start.is_some());
        assert_eq!(provider.scale_calls() - before, 1);
        assert_eq!(provider.get(&name).await.unwrap().replicas, 1);
        // Warm now: no cold start reported.
        assert!(b.ready(&name, ignore).await.unwrap().cold_start.is_none());
    }

    #[tokio::test]
    async fn unknown_function_and_cold_start_timeout() {
        let (b, provider, name) = setup(&[]).await;
        let missing = FunctionName::parse("missing").unwrap();
        let err = b.ready(&missing, ignore).await.err().unwrap();
        assert!(matches!(err, InvokeError::FunctionNotFound(_)), "{err}");
        provider.scale(&name, 0).await.unwrap();
        let err = b.ready(&name, ignore).await.err().unwrap();
        assert!(matches!(err, InvokeError::ColdStartTimeout { .. }), "{err}");
        let off = Balancer::new(Arc::new(provider.clone()), false, Duration::from_secs(1));
        let err = off.ready(&name, ignore).await.err().unwrap();
        assert!(matches!(err, InvokeError::NoReplicas(_)), "{err}");
    }
}
