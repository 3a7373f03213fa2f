//! A value read from the database and kept in memory for a short time,
//! dropped at once when the data changes (every process listens for changes,
//! see `startup`), so a load balancer may send a client to any process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub struct Cached<T> {
    slot: RwLock<Option<(Instant, Arc<T>)>>,
    ttl: Duration,
    generation: AtomicU64,
    loading: tokio::sync::Mutex<()>,
}

impl<T> Cached<T> {
    pub fn new(ttl: Duration) -> Self {
        Cached {
            slot: RwLock::new(None),
            ttl,
            generation: AtomicU64::new(0),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// The value, if loaded less than `ttl` ago and not invalidated since.
    pub fn fresh(&self) -> Option<Arc<T>> {
        let g = self.slot.read().ok()?;
        match &*g {
            Some((at, v)) if at.elapsed() < self.ttl => Some(Arc::clone(v)),
            _ => None,
        }
    }

    /// The value past its time to live (not invalidated), if any.
    fn expired(&self) -> Option<Arc<T>> {
        let g = self.slot.read().ok()?;
        g.as_ref().map(|(_, v)| Arc::clone(v))
    }

    /// Drop the value (the data changed).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut g) = self.slot.write() {
            *g = None;
        }
    }

    /// The fresh value, or one loaded by `load` (one load at a time; a load
    /// that raced an invalidation is returned but not kept).
    pub async fn get_or_load<E, F, Fut>(&self, load: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
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
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let v = Arc::new(load().await?);
        if let Ok(mut g) = self.slot.write() {
            if self.generation.load(Ordering::SeqCst) == generation {
                *g = Some((Instant::now(), Arc::clone(&v)));
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loads_once_then_serves_until_invalidated() {
        let c: Cached<u32> = Cached::new(Duration::from_secs(60));
        let v = c.get_or_load(|| async { Ok::<_, ()>(1) }).await;
        assert_eq!(*v.expect("load"), 1);
        let v = c.get_or_load(|| async { Ok::<_, ()>(2) }).await;
        assert_eq!(*v.expect("cached"), 1);
        c.invalidate();
        assert!(c.fresh().is_none());
        let v = c.get_or_load(|| async { Ok::<_, ()>(3) }).await;
        assert_eq!(*v.expect("reload"), 3);
        let e = Cached::<u32>::new(Duration::ZERO)
            .get_or_load(|| async { Err::<u32, _>("down") })
            .await;
        assert_eq!(e.err(), Some("down"));
    }
}
