//! A small time-bounded cache for what the public pages read on every view.
//!
//! Entries live for the configured time (`public_cache_ms`, default one second). A change
//! made through this process forgets what it touched at once; one made through another
//! instance is seen within the time. A load that overlaps a `forget` is not kept, so a
//! stale read can never outlive the change that made it stale. Nothing that guards money
//! (limits, stock, prices charged) reads from here: checkout reads the database.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    capacity: usize,
    /// Bumped by every forget; a load keeps its answer only if no forget happened meanwhile.
    seq: AtomicU64,
    /// Entries loaded before this were forgotten all at once.
    floor: AtomicU64,
    entries: RwLock<HashMap<K, (Instant, u64, V)>>,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            seq: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The fresh value for `key`, if any.
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        if self.ttl.is_zero() {
            return None;
        }
        let floor = self.floor.load(Ordering::Acquire);
        let entries = self.entries.read().ok()?;
        let (at, seq, v) = entries.get(key)?;
        (at.elapsed() < self.ttl && *seq >= floor).then(|| v.clone())
    }

    /// Call before loading; pass the answer to [`TtlCache::put`].
    pub fn ticket(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Keeps `value` unless something was forgotten since `ticket` was taken.
    pub fn put(&self, key: K, value: V, ticket: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if self.seq.load(Ordering::Acquire) != ticket {
            return;
        }
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, (at, _, _)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), ticket, value));
    }

    pub fn forget<Q: Hash + Eq + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        if let Ok(mut entries) = self.entries.write() {
            self.seq.fetch_add(1, Ordering::AcqRel);
            entries.remove(key);
        }
    }

    pub fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.write() {
            let now = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
            self.floor.store(now, Ordering::Release);
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_forgets_and_refuses_overlapping_loads() {
        let c: TtlCache<&str, u32> = TtlCache::new(Duration::from_secs(60), 2);
        let t = c.ticket();
        c.put("a", 1, t);
        assert_eq!(c.get(&"a"), Some(1));
        // A load that started before a forget is not kept.
        let t = c.ticket();
        c.forget(&"b");
        c.put("b", 2, t);
        assert_eq!(c.get(&"b"), None);
        assert_eq!(c.get(&"a"), Some(1));
        c.forget_all();
        assert_eq!(c.get(&"a"), None);
        // Capacity: a full cache makes room.
        let t = c.ticket();
        c.put("a", 1, t);
        c.put("b", 2, t);
        c.put("c", 3, t);
        assert_eq!(c.get(&"c"), Some(3));
    }

    #[test]
    fn expires_and_can_be_off() {
        let c: TtlCache<u8, u8> = TtlCache::new(Duration::from_millis(20), 10);
        c.put(1, 1, c.ticket());
        assert_eq!(c.get(&1), Some(1));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(c.get(&1), None);
        let off: TtlCache<u8, u8> = TtlCache::new(Duration::ZERO, 10);
        off.put(1, 1, off.ticket());
        assert_eq!(off.get(&1), None);
    }
}
