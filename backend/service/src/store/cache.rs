//! A value read from the database and kept in memory for a short time,
//! reloaded at once when the data changes (every process listens for changes,
//! see `startup`), so a load balancer may send a client to any process.
//!
//! Through an outage: one load runs at a time and its failure is shared by
//! everyone who waited for it; for `retry` after a failure nobody tries again;
//! meanwhile the last good value is served, marked stale, and without one the
//! callers fail at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

struct Entry<T> {
    at: Instant,
    value: Arc<T>,
    /// The data changed since: reload before serving, unless the reload fails.
    invalidated: bool,
}

/// A value as served: how old it is, and whether it is served because the
/// latest load failed.
pub struct Got<T> {
    pub value: Arc<T>,
    pub age: Duration,
    pub stale: bool,
}

pub struct Cached<T> {
    slot: RwLock<Option<Entry<T>>>,
    ttl: Duration,
    retry: Duration,
    generation: AtomicU64,
    failed_at: RwLock<Option<Instant>>,
    loading: tokio::sync::Mutex<()>,
}

impl<T> Cached<T> {
    pub fn new(ttl: Duration, retry: Duration) -> Self {
        Cached {
            slot: RwLock::new(None),
            ttl,
            retry,
            generation: AtomicU64::new(0),
            failed_at: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    fn got(&self, e: &Entry<T>, stale: bool) -> Got<T> {
        Got {
            value: Arc::clone(&e.value),
            age: e.at.elapsed(),
            stale,
        }
    }

    /// The value, if loaded less than `ttl` ago and not invalidated since.
    pub fn fresh(&self) -> Option<Arc<T>> {
        self.fresh_got().map(|g| g.value)
    }

    fn fresh_got(&self) -> Option<Got<T>> {
        let g = self.slot.read().ok()?;
        match &*g {
            Some(e) if !e.invalidated && e.at.elapsed() < self.ttl => Some(self.got(e, false)),
            _ => None,
        }
    }

    /// The value past its time to live (not invalidated), if any.
    fn expired(&self) -> Option<Got<T>> {
        let g = self.slot.read().ok()?;
        g.as_ref()
            .filter(|e| !e.invalidated)
            .map(|e| self.got(e, false))
    }

    /// The last good value, whatever its state: served when loading fails.
    fn last_good(&self) -> Option<Got<T>> {
        let g = self.slot.read().ok()?;
        g.as_ref().map(|e| self.got(e, true))
    }

    fn failed_since(&self, t: Instant) -> bool {
        self.failed_at
            .read()
            .ok()
            .and_then(|f| *f)
            .is_some_and(|f| f >= t)
    }

    fn failed_recently(&self) -> bool {
        self.failed_at
            .read()
            .ok()
            .and_then(|f| *f)
            .is_some_and(|f| f.elapsed() < self.retry)
    }

    /// The data changed: reload before serving again (the old value stays
    /// for when the reload fails).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut g) = self.slot.write() {
            if let Some(e) = g.as_mut() {
                e.invalidated = true;
            }
        }
    }

    /// The fresh value, or one loaded by `load` (one load at a time; a load
    /// that raced an invalidation is returned, and kept only as a fallback). When loading
    /// fails, or failed less than `retry` ago, the last good value (stale),
    /// else the load's error, or `fail()` for callers that did not load.
    pub async fn get_or_load<E, F, Fut>(
        &self,
        load: F,
        fail: impl FnOnce() -> E,
    ) -> Result<Got<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.fresh_got() {
            return Ok(v);
        }
        if self.failed_recently() {
            return self.last_good().ok_or_else(fail);
        }
        let asked = Instant::now();
        // While another request reloads an expired (not invalidated) value,
        // serve the old one rather than queue behind the reload.
        let _guard = match self.loading.try_lock() {
            Ok(g) => g,
            Err(_) => {
                if let Some(v) = self.expired() {
                    return Ok(v);
                }
                self.loading.lock().await
            }
        };
        if let Some(v) = self.fresh_got() {
            return Ok(v);
        }
        // The load this caller waited for failed: share its failure.
        if self.failed_since(asked) || self.failed_recently() {
            return self.last_good().ok_or_else(fail);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        match load().await {
            Ok(v) => {
                let v = Arc::new(v);
                if let Ok(mut f) = self.failed_at.write() {
                    *f = None;
                }
                if let Ok(mut g) = self.slot.write() {
                    // A load that raced an invalidation may miss the change:
                    // kept only as the last good value, reloaded before use.
                    let raced = self.generation.load(Ordering::SeqCst) != generation;
                    *g = Some(Entry {
                        at: Instant::now(),
                        value: Arc::clone(&v),
                        invalidated: raced,
                    });
                }
                Ok(Got {
                    value: v,
                    age: Duration::ZERO,
                    stale: false,
                })
            }
            Err(e) => {
                if let Ok(mut f) = self.failed_at.write() {
                    *f = Some(Instant::now());
                }
                match self.last_good() {
                    Some(v) => Ok(v),
                    None => Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never() -> &'static str {
        "not loaded"
    }

    #[tokio::test]
    async fn loads_once_then_serves_until_invalidated() {
        let c: Cached<u32> = Cached::new(Duration::from_secs(60), Duration::ZERO);
        let v = c.get_or_load(|| async { Ok::<_, &str>(1) }, never).await;
        assert_eq!(*v.expect("load").value, 1);
        let v = c.get_or_load(|| async { Ok::<_, &str>(2) }, never).await;
        assert_eq!(*v.expect("cached").value, 1);
        c.invalidate();
        assert!(c.fresh().is_none());
        let v = c.get_or_load(|| async { Ok::<_, &str>(3) }, never).await;
        assert_eq!(*v.expect("reload").value, 3);
        let e = Cached::<u32>::new(Duration::ZERO, Duration::ZERO)
            .get_or_load(|| async { Err::<u32, _>("down") }, never)
            .await;
        assert_eq!(e.err(), Some("down"));
    }

    #[tokio::test]
    async fn a_load_that_raced_an_invalidation_is_a_fallback_only() {
        let c: Cached<u32> = Cached::new(Duration::from_secs(60), Duration::from_secs(60));
        let v = c
            .get_or_load(
                || async {
                    c.invalidate();
                    Ok::<_, &str>(1)
                },
                never,
            )
            .await
            .expect("load");
        assert_eq!(*v.value, 1);
        assert!(c.fresh().is_none(), "reloaded before it is served again");
        let g = c
            .get_or_load(|| async { Err::<u32, _>("down") }, never)
            .await
            .expect("the raced value as the fallback");
        assert_eq!((*g.value, g.stale), (1, true));
    }

    #[tokio::test]
    async fn a_failed_reload_serves_the_last_value_stale_and_is_not_retried_at_once() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let counted = || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<u32, _>("down") }
        };
        let c: Cached<u32> = Cached::new(Duration::from_secs(60), Duration::from_secs(60));
        let _ = c.get_or_load(|| async { Ok::<_, &str>(1) }, never).await;
        c.invalidate();
        let g = c.get_or_load(counted, never).await.expect("stale value");
        assert_eq!((*g.value, g.stale), (1, true));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Within the retry window the loader is not called.
        let g = c.get_or_load(counted, never).await.expect("stale value");
        assert!(g.stale);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Without a value: the caller's error at once.
        let empty: Cached<u32> = Cached::new(Duration::from_secs(60), Duration::from_secs(60));
        let e = empty.get_or_load(counted, never).await;
        assert_eq!(e.err(), Some("down"));
        let e = empty.get_or_load(counted, never).await;
        assert_eq!(e.err(), Some("not loaded"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
