//! Listings that need more than a cursor can carry (SLB's certificate table
//! and the set of certificates seen on listeners; CAS's auto-management and
//! deployment maps) keep their state in the opened source, under an id the
//! cursor names. Bounded: the oldest listings are dropped first, and a
//! cursor whose state is gone fails with a clear "list again" error.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use certinspect_sdk::{error_kind, PluginError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Per-listing state, keyed by a number the cursor carries.
#[derive(Debug)]
pub struct ListingStore<S> {
    inner: Mutex<Inner<S>>,
    capacity: usize,
}

#[derive(Debug)]
struct Inner<S> {
    next_id: u64,
    listings: BTreeMap<u64, Arc<Mutex<S>>>,
}

impl<S> ListingStore<S> {
    /// A store keeping at most `capacity` unfinished listings.
    pub fn new(capacity: usize) -> Self {
        Self { inner: Mutex::new(Inner { next_id: 1, listings: BTreeMap::new() }), capacity: capacity.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `state` and returns its id.
    pub fn insert(&self, state: S) -> u64 {
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.listings.insert(id, Arc::new(Mutex::new(state)));
        while inner.listings.len() > self.capacity {
            inner.listings.pop_first();
        }
        id
    }

    /// The state of listing `id`.
    pub fn get(&self, id: u64) -> Result<Arc<Mutex<S>>, PluginError> {
        self.lock().listings.get(&id).cloned().ok_or_else(|| {
            PluginError::protocol(format!(
                "listing {id} is no longer known to this source (finished, or dropped after {} newer listings); list the scope again",
                self.capacity
            ))
        })
    }

    /// Forgets listing `id` (it finished).
    pub fn remove(&self, id: u64) {
        self.lock().listings.remove(&id);
    }

    /// Unfinished listings kept.
    pub fn len(&self) -> usize {
        self.lock().listings.len()
    }

    /// Whether no listing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A cursor as text (JSON; opaque to the host).
pub fn encode_cursor<C: Serialize>(cursor: &C) -> String {
    certinspect_sdk::serde_json::to_string(cursor).unwrap_or_default()
}

/// Reads a cursor this plugin produced.
pub fn decode_cursor<C: DeserializeOwned>(text: &str) -> Result<C, PluginError> {
    certinspect_sdk::serde_json::from_str(text).map_err(|e| {
        PluginError::new(error_kind::PROTOCOL, format!("cursor not understood ({e}); list the scope again"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_listings_are_dropped_first() {
        let store = ListingStore::new(2);
        let a = store.insert(1);
        let b = store.insert(2);
        let c = store.insert(3);
        assert!(store.get(a).is_err());
        assert_eq!(*store.get(b).unwrap().lock().unwrap(), 2);
        store.remove(c);
        assert_eq!(store.len(), 1);
        assert!(store.get(c).unwrap_err().message.contains("list the scope again"));
    }
}
