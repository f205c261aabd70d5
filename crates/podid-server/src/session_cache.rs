//! Sessions issued recently, handed out again to the same pod while they are fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::sessions::{IssuedSession, TrustVerdict};

/// Who a session was issued for: the association as it stood, and the pod. The association
/// fixes the cluster, namespace and service account, so they need no place in the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub association_id: String,
    /// The association's `modifiedAt` in milliseconds: an update makes a new key.
    pub association_version: i64,
    pub pod_name: String,
    pub pod_uid: String,
}

/// A session as the cache keeps it.
#[derive(Debug)]
pub struct CachedSession {
    pub session: IssuedSession,
    pub name: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// The trust check the session was last handed out under.
    pub trust: TrustVerdict,
}

impl CachedSession {
    /// More than half of its lifetime remains.
    fn fresh(&self, now: i64) -> bool {
        let expires = self.session.credentials.expiration().secs();
        expires - now > (expires - self.issued_at) / 2
    }
}

/// Sessions issued recently, reused for the same pod and association while more than half of
/// their lifetime remains. Agents on several nodes, or an agent that restarted, then cost no
/// STS call, and STS's request quota goes to pods that need a new session.
#[derive(Debug, Default)]
pub struct SessionCache {
    sessions: Mutex<HashMap<SessionKey, Arc<CachedSession>>>,
}

/// At most this many sessions are kept; past it, the ones past half their lifetime go first.
const MAX_CACHED_SESSIONS: usize = 20_000;

impl SessionCache {
    /// A reusable session.
    pub fn get(&self, key: &SessionKey, now: i64) -> Option<Arc<CachedSession>> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .get(key)
            .filter(|cached| cached.fresh(now))
            .map(Arc::clone)
    }

    /// Keeps `session` for `key` and gives it back shared.
    pub fn insert(&self, key: SessionKey, session: CachedSession, now: i64) -> Arc<CachedSession> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= MAX_CACHED_SESSIONS {
            sessions.retain(|_, cached| cached.fresh(now));
            if sessions.len() >= MAX_CACHED_SESSIONS {
                sessions.clear();
            }
        }
        let session = Arc::new(session);
        sessions.insert(key, Arc::clone(&session));
        session
    }
}
