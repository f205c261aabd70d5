//! Durable state: pod identity associations.
//!
//! The store is an interface so that one control plane can keep its state in a single SQLite
//! file while several replicas share a PostgreSQL database. Calls are synchronous; the API runs
//! them on tokio's blocking pool.

mod sqlite;

use std::sync::Arc;

use podid_core::associations::Association;

pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store failure: {0}")]
    Backend(String),
    #[error("the store holds a record it cannot read: {0}")]
    Corrupt(String),
}

/// What a Create did.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    Created(Association),
    /// The same client request token with the same request: the earlier answer again.
    Replayed(Association),
    /// The service account already has this association.
    InUse(Association),
    /// The client request token was used before for a different request.
    TokenReused,
    /// The cluster holds as many associations as it may.
    LimitReached(usize),
}

/// An idempotent Create: the caller's token and a fingerprint of what it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub token: String,
    pub fingerprint: String,
}

/// Which associations a List wants, and where the previous page ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub cluster: String,
    pub namespace: Option<String>,
    pub service_account: Option<String>,
    /// Position after which this page starts, from the previous page.
    pub after: Option<i64>,
    pub limit: usize,
}

/// One page: the associations and, when more follow, the position to continue from.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub associations: Vec<Association>,
    pub next: Option<i64>,
}

pub trait AssociationStore: Send + Sync + 'static {
    fn create(
        &self,
        association: &Association,
        idempotency: Option<&Idempotency>,
        limit: usize,
    ) -> Result<CreateOutcome, StoreError>;

    fn get(&self, cluster: &str, id: &str) -> Result<Option<Association>, StoreError>;

    /// The association of a service account. It runs on the request path of every credential
    /// exchange, so a store answers it without waiting on disk or network (from memory kept
    /// in step with its writes).
    fn find(
        &self,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Option<Arc<Association>>, StoreError>;

    fn list(&self, query: &ListQuery) -> Result<Page, StoreError>;

    /// Replaces the stored association of the same id; `None` when it no longer exists.
    fn update(&self, association: &Association) -> Result<Option<Association>, StoreError>;

    /// Removes an association and returns it; `None` when it did not exist.
    fn delete(&self, cluster: &str, id: &str) -> Result<Option<Association>, StoreError>;
}
