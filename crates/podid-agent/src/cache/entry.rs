//! Cache entries: one per pod, with the tokens upstream accepted for it.

use std::collections::HashMap;
use std::sync::Arc;

use podid_core::Secret;
use podid_core::token::{PodIdentity, UnverifiedToken};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::{CredentialSource, Served, Shared, refresh};

/// How many accepted tokens an entry remembers: the current one, and the previous ones of the
/// same pod while its containers still read a token file that the kubelet has since rotated.
const TOKENS_PER_POD: usize = 3;

#[derive(Debug, Default)]
pub(super) struct Entries {
    by_pod: HashMap<PodIdentity, Entry>,
    generations: u64,
}

#[derive(Debug)]
pub(super) struct Entry {
    pub served: Arc<Served>,
    tokens: Vec<AcceptedToken>,
    pub last_access: Instant,
    /// Which refresh task owns this entry; a task that finds another generation stops.
    pub generation: u64,
    _refresher: RefreshTask,
}

#[derive(Debug, Clone)]
pub(super) struct AcceptedToken {
    pub raw: Secret,
    pub expires_at: i64,
}

/// The refresh task of an entry, aborted when the entry is replaced or dropped.
#[derive(Debug)]
struct RefreshTask(AbortHandle);

impl Drop for RefreshTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Entries {
    pub fn len(&self) -> usize {
        self.by_pod.len()
    }

    pub fn get_mut(&mut self, pod: &PodIdentity) -> Option<&mut Entry> {
        self.by_pod.get_mut(pod)
    }

    pub fn remove(&mut self, pod: &PodIdentity) -> Option<Entry> {
        self.by_pod.remove(pod)
    }

    /// The entry of `pod` if `generation` still owns it.
    pub fn owned_by(&mut self, pod: &PodIdentity, generation: u64) -> Option<&mut Entry> {
        self.by_pod
            .get_mut(pod)
            .filter(|entry| entry.generation == generation)
    }

    fn evict_least_recently_used(&mut self) -> bool {
        let oldest = self
            .by_pod
            .iter()
            .min_by_key(|(_, entry)| entry.last_access);
        let Some(pod) = oldest.map(|(pod, _)| pod.clone()) else {
            return false;
        };
        self.by_pod.remove(&pod).is_some()
    }
}

impl Entry {
    /// Whether upstream has accepted exactly this token for the entry's pod.
    pub fn accepts(&self, raw: &Secret) -> bool {
        self.tokens
            .iter()
            .any(|token| token.raw.constant_time_eq(raw.expose()))
    }

    /// The accepted token that stays valid longest: the one refreshes use.
    pub fn freshest_token(&self) -> Option<&AcceptedToken> {
        self.tokens.iter().max_by_key(|token| token.expires_at)
    }

    fn accept(&mut self, token: &UnverifiedToken) {
        if !self.accepts(token.raw()) {
            self.tokens.push(AcceptedToken {
                raw: token.raw().clone(),
                expires_at: token.expires_at(),
            });
        }
        if self.tokens.len() > TOKENS_PER_POD {
            self.tokens
                .sort_by_key(|token| std::cmp::Reverse(token.expires_at));
            self.tokens.truncate(TOKENS_PER_POD);
        }
    }
}

impl<S: CredentialSource> Shared<S> {
    /// Stores credentials that upstream issued for `token`, and (re)starts the entry's refresh
    /// schedule.
    pub(super) fn store(self: &Arc<Self>, token: &UnverifiedToken, served: Arc<Served>) {
        let first_refresh = self.refresh_delay(&served);
        let mut entries = self.lock_entries();
        entries.generations += 1;
        let generation = entries.generations;
        let task = tokio::spawn(refresh::run(
            Arc::downgrade(self),
            token.pod().clone(),
            generation,
            first_refresh,
        ));
        let refresher = RefreshTask(task.abort_handle());

        if let Some(entry) = entries.by_pod.get_mut(token.pod()) {
            entry.served = served;
            entry.accept(token);
            entry.generation = generation;
            entry.last_access = Instant::now();
            entry._refresher = refresher;
            return;
        }
        if entries.len() >= self.settings.max_entries && entries.evict_least_recently_used() {
            self.metrics.evicted("capacity");
        }
        let mut entry = Entry {
            served,
            tokens: Vec::with_capacity(1),
            last_access: Instant::now(),
            generation,
            _refresher: refresher,
        };
        entry.accept(token);
        entries.by_pod.insert(token.pod().clone(), entry);
        self.metrics.cache_entries.set(entries.len() as i64);
    }

    /// Drops the entry of `pod` if `generation` still owns it.
    pub(super) fn evict(&self, pod: &PodIdentity, generation: u64, reason: &'static str) {
        let mut entries = self.lock_entries();
        if entries.owned_by(pod, generation).is_some() {
            let entry = entries.remove(pod);
            self.metrics.evicted(reason);
            self.metrics.cache_entries.set(entries.len() as i64);
            drop(entries);
            // Dropping the entry aborts its refresh task, possibly the caller: do it last.
            drop(entry);
        }
    }
}
