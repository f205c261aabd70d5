//! Cache entries: one per pod, with the tokens upstream accepted for it, and an index from
//! those tokens to their pod so that a hit needs no token decoding.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Arc;

use podid_core::Secret;
use podid_core::token::{PodIdentity, UnverifiedToken};
use tokio::time::Instant;

use super::{CredentialSource, Served, Shared};

/// How many accepted tokens an entry remembers: the current one, and the previous ones of the
/// same pod while its containers still read a token file that the kubelet has since rotated.
const TOKENS_PER_POD: usize = 3;

/// Tables are sized for this many pods at most when the cache is made. Sizing them up front
/// spares the moments when a growing table and its larger successor are both allocated, and the
/// holes the old ones leave in the heap; beyond it they grow as usual.
const PRESIZED_PODS: usize = 4096;

/// The bytes of a token that its index key is computed from: the end of a JWT is its
/// signature, as good as random, so hashing it identifies the token without reading it all.
const KEYED_SUFFIX: usize = 64;

#[derive(Debug, Default)]
pub(super) struct Entries {
    /// Keyed by one shared copy of the pod's identity, which the token index and the refresh
    /// queue point to as well.
    by_pod: HashMap<Arc<PodIdentity>, Entry>,
    /// Accepted tokens, by a keyed hash of their end, to the pod they belong to. A key only
    /// narrows the search: a hit still compares the whole token.
    by_token: HashMap<u64, Arc<PodIdentity>>,
    token_keys: RandomState,
    generations: u64,
}

#[derive(Debug)]
pub(super) struct Entry {
    pub served: Arc<Served>,
    tokens: Vec<AcceptedToken>,
    pub last_access: Instant,
    /// Which refresh schedule owns this entry; a refresh of another generation is dropped.
    pub generation: u64,
}

#[derive(Debug, Clone)]
pub(super) struct AcceptedToken {
    pub raw: Secret,
    pub expires_at: i64,
}

impl Entries {
    /// Tables with room for `max_pods` pods (up to [`PRESIZED_PODS`]) and one token each.
    pub fn with_capacity(max_pods: usize) -> Self {
        let pods = max_pods.min(PRESIZED_PODS);
        Self {
            by_pod: HashMap::with_capacity(pods),
            by_token: HashMap::with_capacity(pods),
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.by_pod.len()
    }

    pub fn get_mut(&mut self, pod: &PodIdentity) -> Option<&mut Entry> {
        self.by_pod.get_mut(pod)
    }

    /// The entry that accepted exactly `raw`, if any, and the token's expiry.
    pub fn by_raw_token(&mut self, raw: &str) -> Option<(&mut Entry, i64)> {
        let pod = self.by_token.get(&self.token_key(raw))?;
        let entry = self.by_pod.get_mut(pod)?;
        let expires_at = entry.accepted(raw)?.expires_at;
        Some((entry, expires_at))
    }

    pub fn remove(&mut self, pod: &PodIdentity) -> Option<Entry> {
        let entry = self.by_pod.remove(pod)?;
        for token in &entry.tokens {
            let key = self.token_key(token.raw.expose());
            self.by_token.remove(&key);
        }
        Some(entry)
    }

    /// The entry of `pod` if `generation` still owns it.
    pub fn owned_by(&mut self, pod: &PodIdentity, generation: u64) -> Option<&mut Entry> {
        self.by_pod
            .get_mut(pod)
            .filter(|entry| entry.generation == generation)
    }

    fn next_generation(&mut self) -> u64 {
        self.generations += 1;
        self.generations
    }

    fn evict_least_recently_used(&mut self) -> bool {
        let oldest = self
            .by_pod
            .iter()
            .min_by_key(|(_, entry)| entry.last_access);
        let Some(pod) = oldest.map(|(pod, _)| Arc::clone(pod)) else {
            return false;
        };
        self.remove(&pod).is_some()
    }

    /// The shared identity of `pod`: the entry's own copy when it has one.
    fn shared_identity(&self, pod: &PodIdentity) -> Arc<PodIdentity> {
        match self.by_pod.get_key_value(pod) {
            Some((shared, _)) => Arc::clone(shared),
            None => Arc::new(pod.clone()),
        }
    }

    /// Records that upstream accepted `token` for its pod, forgetting the pod's oldest tokens
    /// beyond the few it keeps.
    fn accept(&mut self, token: &UnverifiedToken) {
        let key = self.token_key(token.raw().expose());
        let identity = self.shared_identity(token.pod());
        let Some(entry) = self.by_pod.get_mut(token.pod()) else {
            return;
        };
        if entry.accepted(token.raw().expose()).is_none() {
            entry.tokens.push(AcceptedToken {
                raw: token.raw().clone(),
                expires_at: token.expires_at(),
            });
            self.by_token.insert(key, identity);
        }
        if entry.tokens.len() > TOKENS_PER_POD {
            entry
                .tokens
                .sort_by_key(|token| std::cmp::Reverse(token.expires_at));
            let dropped: Vec<AcceptedToken> = entry.tokens.drain(TOKENS_PER_POD..).collect();
            for token in dropped {
                let key = self.token_key(token.raw.expose());
                self.by_token.remove(&key);
            }
        }
    }

    fn token_key(&self, raw: &str) -> u64 {
        let bytes = raw.as_bytes();
        let mut hasher = self.token_keys.build_hasher();
        hasher.write_usize(bytes.len());
        hasher.write(&bytes[bytes.len().saturating_sub(KEYED_SUFFIX)..]);
        hasher.finish()
    }
}

impl Entry {
    /// The accepted token equal to `raw`, compared in constant time.
    pub fn accepted(&self, raw: &str) -> Option<&AcceptedToken> {
        self.tokens
            .iter()
            .find(|token| token.raw.constant_time_eq(raw))
    }

    /// The accepted token that stays valid longest: the one refreshes use.
    pub fn freshest_token(&self) -> Option<&AcceptedToken> {
        self.tokens.iter().max_by_key(|token| token.expires_at)
    }
}

impl<S: CredentialSource> Shared<S> {
    /// Stores credentials that upstream issued for `token`, and (re)starts the entry's refresh
    /// schedule.
    pub(super) fn store(&self, token: &UnverifiedToken, served: Arc<Served>) {
        let first_refresh = self.refresh_delay(&served);
        let mut entries = self.lock_entries();
        let generation = entries.next_generation();
        let identity = entries.shared_identity(token.pod());

        if let Some(entry) = entries.get_mut(token.pod()) {
            entry.served = served;
            entry.generation = generation;
            entry.last_access = Instant::now();
        } else {
            if entries.len() >= self.settings.max_entries && entries.evict_least_recently_used() {
                self.metrics.evicted("capacity");
            }
            let entry = Entry {
                served,
                tokens: Vec::with_capacity(1),
                last_access: Instant::now(),
                generation,
            };
            entries.by_pod.insert(Arc::clone(&identity), entry);
        }
        entries.accept(token);
        self.metrics.cache_entries.set(entries.len() as i64);
        drop(entries);
        self.refresh_queue
            .schedule(identity, generation, first_refresh);
    }

    /// Drops the entry of `pod` if `generation` still owns it.
    pub(super) fn evict(&self, pod: &PodIdentity, generation: u64, reason: &'static str) {
        let mut entries = self.lock_entries();
        if entries.owned_by(pod, generation).is_some() {
            entries.remove(pod);
            self.metrics.evicted(reason);
            self.metrics.cache_entries.set(entries.len() as i64);
        }
    }
}
