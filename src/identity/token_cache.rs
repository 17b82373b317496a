//! The validated-token cache in front of Keystone: bounded, each entry living for
//! min(`token_cache_time`, the token's expiry), refusals remembered briefly, and one
//! Keystone call per uncached token however many requests carry it at once (the first
//! caller validates; the others await the same cell). An outage answer is never kept.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::OnceCell;

/// What Keystone said about one token.
#[derive(Clone, Debug)]
pub enum Verdict<V> {
    Valid(V),
    /// Unknown, expired or revoked (Keystone's 404): 401.
    Invalid,
    /// Keystone could not answer (down, slow, 5xx): 503, and not cached.
    Unavailable,
}

/// How a lookup was served, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    Hit,
    NegativeHit,
    /// This caller asked Keystone (or awaited another caller's identical question).
    Miss,
}

#[derive(Debug)]
struct Entry<V> {
    verdict: Verdict<V>,
    /// Past this instant the entry is stale; `None` for `Unavailable` (never reused).
    until: Option<Instant>,
}

type Slot<V> = Arc<OnceCell<Entry<V>>>;

pub struct TokenCache<V> {
    slots: RwLock<HashMap<Box<str>, Slot<V>>>,
    capacity: usize,
}

impl<V: Clone> TokenCache<V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: RwLock::new(HashMap::with_capacity(capacity.min(1024))),
            capacity: capacity.max(1),
        }
    }

    /// The cached verdict on `key`, if fresh: the hot path (a read lock and a hash lookup).
    pub fn cached(&self, key: &str, now: Instant) -> Option<(Verdict<V>, Served)> {
        let slots = match self.slots.read() {
            Ok(slots) => slots,
            Err(poisoned) => poisoned.into_inner(),
        };
        let entry = slots.get(key)?.get()?;
        match entry.until {
            Some(until) if until > now => Some(match &entry.verdict {
                Verdict::Valid(value) => (Verdict::Valid(value.clone()), Served::Hit),
                other => (other.clone(), Served::NegativeHit),
            }),
            _ => None,
        }
    }

    /// The verdict on `key`: cached, or from `validate` (which returns the verdict and how
    /// long it may be kept). Concurrent callers for one key share one `validate` call.
    pub async fn get_or_validate<F, Fut>(&self, key: &str, validate: F) -> (Verdict<V>, Served)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (Verdict<V>, Option<Instant>)>,
    {
        if let Some(found) = self.cached(key, Instant::now()) {
            return found;
        }
        let slot = self.slot_for(key);
        let entry = slot
            .get_or_init(|| async {
                let (verdict, until) = validate().await;
                Entry { verdict, until }
            })
            .await;
        let verdict = entry.verdict.clone();
        if entry.until.is_none() {
            // An outage answer: forget it, so the next request asks Keystone again.
            self.remove_if_same(key, &slot);
        }
        (verdict, Served::Miss)
    }

    /// The slot to await for `key`: the in-flight or fresh one, else a new empty one.
    fn slot_for(&self, key: &str) -> Slot<V> {
        let now = Instant::now();
        let mut slots = match self.slots.write() {
            Ok(slots) => slots,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(slot) = slots.get(key) {
            let reusable = match slot.get() {
                None => true, // in flight: wait for it
                Some(entry) => entry.until.is_some_and(|until| until > now),
            };
            if reusable {
                return slot.clone();
            }
        }
        if slots.len() >= self.capacity {
            evict(&mut slots, self.capacity, now);
        }
        let slot: Slot<V> = Arc::new(OnceCell::new());
        slots.insert(key.into(), slot.clone());
        slot
    }

    fn remove_if_same(&self, key: &str, slot: &Slot<V>) {
        let mut slots = match self.slots.write() {
            Ok(slots) => slots,
            Err(poisoned) => poisoned.into_inner(),
        };
        if slots
            .get(key)
            .is_some_and(|current| Arc::ptr_eq(current, slot))
        {
            slots.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        match self.slots.read() {
            Ok(slots) => slots.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Make room: drop stale entries; if that is not enough (a flood of distinct valid tokens),
/// drop arbitrary ones down to 3/4 of the capacity. Dropping only costs a re-validation.
fn evict<V>(slots: &mut HashMap<Box<str>, Slot<V>>, capacity: usize, now: Instant) {
    slots.retain(|_, slot| match slot.get() {
        Some(entry) => entry.until.is_some_and(|until| until > now),
        None => Arc::strong_count(slot) > 1, // in flight
    });
    let target = capacity / 4 * 3;
    if slots.len() > target {
        let excess = slots.len() - target;
        let victims: Vec<Box<str>> = slots.keys().take(excess).cloned().collect();
        for key in victims {
            slots.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn later(seconds: u64) -> Option<Instant> {
        Some(Instant::now() + Duration::from_secs(seconds))
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_validation() {
        let cache = Arc::new(TokenCache::<u32>::new(100));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let (cache, calls) = (cache.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_validate("tok", || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        (Verdict::Valid(7), later(60))
                    })
                    .await
            }));
        }
        for task in tasks {
            let (verdict, _) = task.await.expect("task");
            assert!(matches!(verdict, Verdict::Valid(7)));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let (_, served) = cache.cached("tok", Instant::now()).expect("cached");
        assert_eq!(served, Served::Hit);
    }

    #[tokio::test]
    async fn entries_expire_refusals_are_negative_hits_outages_are_not_kept() {
        let cache = TokenCache::<u32>::new(100);
        cache
            .get_or_validate("short", || async {
                (Verdict::Valid(1), Some(Instant::now()))
            })
            .await;
        assert!(cache.cached("short", Instant::now()).is_none(), "expired");
        cache
            .get_or_validate("bad", || async { (Verdict::Invalid, later(60)) })
            .await;
        let (verdict, served) = cache.cached("bad", Instant::now()).expect("negative");
        assert!(matches!(verdict, Verdict::Invalid));
        assert_eq!(served, Served::NegativeHit);
        let (verdict, _) = cache
            .get_or_validate("down", || async { (Verdict::Unavailable, None) })
            .await;
        assert!(matches!(verdict, Verdict::Unavailable));
        assert!(cache.cached("down", Instant::now()).is_none());
        let (verdict, _) = cache
            .get_or_validate("down", || async { (Verdict::Valid(2), later(60)) })
            .await;
        assert!(matches!(verdict, Verdict::Valid(2)), "recovers");
    }

    #[tokio::test]
    async fn the_cache_stays_bounded() {
        let cache = TokenCache::<u32>::new(64);
        for i in 0..1000 {
            let key = format!("token-{i}");
            cache
                .get_or_validate(&key, || async { (Verdict::Valid(i), later(60)) })
                .await;
            assert!(cache.len() <= 64, "{} entries", cache.len());
        }
        let (verdict, _) = cache
            .cached("token-999", Instant::now())
            .expect("newest kept");
        assert!(matches!(verdict, Verdict::Valid(999)));
    }
}
