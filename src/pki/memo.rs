//! Readings remembered by key: for work that is a function of its key alone (a
//! certificate's reading, a parsed public key), done again for every document that brings
//! the same few certificates. Only what is put in is kept, and the memory starts over when
//! full: no eviction order to keep, and a stream of ever new keys cannot grow it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// A bounded memory, usable as a `static`.
pub(crate) struct Memo<K, V> {
    map: OnceLock<Mutex<HashMap<K, V>>>,
    max: usize,
}

impl<K: Hash + Eq, V: Clone> Memo<K, V> {
    /// Empty, keeping at most `max` entries.
    pub(crate) const fn new(max: usize) -> Self {
        Self {
            map: OnceLock::new(),
            max,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, V>> {
        // A panic while holding it leaves a map of whole entries: nothing to undo.
        self.map
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// What is remembered for `key`.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.lock().get(key).cloned()
    }

    /// Remembers `value` for `key`, starting over first when full.
    pub(crate) fn insert(&self, key: K, value: V) {
        let mut map = self.lock();
        if map.len() >= self.max {
            map.clear();
        }
        map.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_what_was_put_in_and_starts_over_when_full() {
        static M: Memo<u32, String> = Memo::new(3);
        assert_eq!(M.get(&1), None);
        for k in 1..=3 {
            M.insert(k, k.to_string());
        }
        assert_eq!(M.get(&2).as_deref(), Some("2"));
        // A fourth: the memory starts over, holding only it.
        M.insert(4, "4".into());
        assert_eq!((M.get(&1), M.get(&4).as_deref()), (None, Some("4")));
    }
}
