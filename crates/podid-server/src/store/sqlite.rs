//! The SQLite store: one file, write-ahead log, every commit synced before it is acknowledged.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use podid_core::associations::{Association, Tags};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{AssociationStore, CreateOutcome, Idempotency, ListQuery, Page, StoreError};

/// Each entry upgrades the schema by one version; `PRAGMA user_version` records how far a
/// database has come. Entries are never edited once released, only appended.
const MIGRATIONS: &[&str] = &[r#"
    CREATE TABLE associations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        cluster TEXT NOT NULL,
        namespace TEXT NOT NULL,
        service_account TEXT NOT NULL,
        role_arn TEXT NOT NULL,
        association_arn TEXT NOT NULL,
        tags TEXT NOT NULL,
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL,
        owner_arn TEXT,
        disable_session_tags INTEGER NOT NULL,
        target_role_arn TEXT,
        external_id TEXT,
        policy TEXT,
        UNIQUE (cluster, namespace, service_account)
    );
    CREATE TABLE create_requests (
        cluster TEXT NOT NULL,
        token TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        association_id TEXT NOT NULL,
        PRIMARY KEY (cluster, token)
    );
"#];

const COLUMNS: &str = "seq, id, cluster, namespace, service_account, role_arn, association_arn, \
    tags, created_at, modified_at, owner_arn, disable_session_tags, target_role_arn, \
    external_id, policy";

#[derive(Debug)]
pub struct SqliteStore {
    connection: Mutex<Connection>,
    /// Every association by (cluster, namespace, service account), so that the lookup on each
    /// credential exchange is a map read: this process is the database's only writer, and
    /// updates the map under the same lock, right after each commit.
    by_service_account: RwLock<Mirror>,
}

/// Associations by cluster, then by namespace and service account: nested so that a lookup
/// borrows its key instead of building one.
type Mirror = HashMap<String, HashMap<String, HashMap<String, Arc<Association>>>>;

fn mirror_insert(mirror: &mut Mirror, association: &Association) {
    mirror
        .entry(association.cluster_name.clone())
        .or_default()
        .entry(association.namespace.clone())
        .or_default()
        .insert(
            association.service_account.clone(),
            Arc::new(association.clone()),
        );
}

fn mirror_remove(mirror: &mut Mirror, association: &Association) {
    let Some(namespaces) = mirror.get_mut(&association.cluster_name) else {
        return;
    };
    if let Some(accounts) = namespaces.get_mut(&association.namespace) {
        accounts.remove(&association.service_account);
        if accounts.is_empty() {
            namespaces.remove(&association.namespace);
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut connection = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("opening {}: {e}", path.display())))?;
        // WAL lets readers proceed during a write; synchronous=FULL syncs the log at every
        // commit, so an acknowledged write survives a crash of the process or of the machine.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
            )
            .map_err(backend)?;
        migrate(&mut connection)?;
        let all = load_all(&connection)?;
        let mut by_service_account = Mirror::new();
        for association in &all {
            mirror_insert(&mut by_service_account, association);
        }
        Ok(Self {
            connection: Mutex::new(connection),
            by_service_account: RwLock::new(by_service_account),
        })
    }

    fn mirror(&self) -> std::sync::RwLockWriteGuard<'_, Mirror> {
        self.by_service_account
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic cannot leave the connection mid-transaction: rusqlite rolls back on drop.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let version: usize = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(backend)?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database has schema version {version}, newer than this podid knows ({}); \
             upgrade podid",
            MIGRATIONS.len()
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        let transaction = connection.transaction().map_err(backend)?;
        transaction.execute_batch(migration).map_err(backend)?;
        transaction
            .pragma_update(None, "user_version", index + 1)
            .map_err(backend)?;
        transaction.commit().map_err(backend)?;
    }
    Ok(())
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl AssociationStore for SqliteStore {
    fn create(
        &self,
        association: &Association,
        idempotency: Option<&Idempotency>,
        limit: usize,
    ) -> Result<CreateOutcome, StoreError> {
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(backend)?;
        let cluster = &association.cluster_name;

        if let Some(request) = idempotency
            && let Some(outcome) = replay(&transaction, cluster, request)?
        {
            return Ok(outcome);
        }
        let existing = select_one(
            &transaction,
            "cluster = ?1 AND namespace = ?2 AND service_account = ?3",
            params![cluster, association.namespace, association.service_account],
        )?;
        if let Some(existing) = existing {
            return Ok(CreateOutcome::InUse(existing));
        }
        let count: usize = transaction
            .query_row(
                "SELECT COUNT(*) FROM associations WHERE cluster = ?1",
                [cluster],
                |r| r.get(0),
            )
            .map_err(backend)?;
        if count >= limit {
            return Ok(CreateOutcome::LimitReached(limit));
        }

        insert(&transaction, association)?;
        if let Some(request) = idempotency {
            transaction
                .execute(
                    "INSERT OR REPLACE INTO create_requests VALUES (?1, ?2, ?3, ?4)",
                    params![
                        cluster,
                        request.token,
                        request.fingerprint,
                        association.association_id
                    ],
                )
                .map_err(backend)?;
        }
        transaction.commit().map_err(backend)?;
        mirror_insert(&mut self.mirror(), association);
        Ok(CreateOutcome::Created(association.clone()))
    }

    fn get(&self, cluster: &str, id: &str) -> Result<Option<Association>, StoreError> {
        select_one(
            &self.connection(),
            "cluster = ?1 AND id = ?2",
            params![cluster, id],
        )
    }

    fn find(
        &self,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Option<Arc<Association>>, StoreError> {
        let mirror = self
            .by_service_account
            .read()
            .unwrap_or_else(|p| p.into_inner());
        Ok(mirror
            .get(cluster)
            .and_then(|namespaces| namespaces.get(namespace))
            .and_then(|accounts| accounts.get(service_account))
            .cloned())
    }

    fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let connection = self.connection();
        let sql = format!(
            "SELECT {COLUMNS} FROM associations WHERE cluster = ?1 AND seq > ?2 \
             AND (?3 IS NULL OR namespace = ?3) AND (?4 IS NULL OR service_account = ?4) \
             ORDER BY seq LIMIT ?5"
        );
        let mut statement = connection.prepare_cached(&sql).map_err(backend)?;
        let rows = statement
            .query_map(
                params![
                    query.cluster,
                    query.after.unwrap_or(0),
                    query.namespace,
                    query.service_account,
                    (query.limit + 1) as i64
                ],
                read_row,
            )
            .map_err(backend)?;
        let mut found = Vec::new();
        for row in rows {
            found.push(row.map_err(backend)??);
        }
        let next = if found.len() > query.limit {
            found.truncate(query.limit);
            found.last().map(|(seq, _)| *seq)
        } else {
            None
        };
        Ok(Page {
            associations: found.into_iter().map(|(_, a)| a).collect(),
            next,
        })
    }

    fn update(&self, association: &Association) -> Result<Option<Association>, StoreError> {
        let connection = self.connection();
        let changed = connection
            .execute(
                "UPDATE associations SET role_arn = ?3, modified_at = ?4, \
                 disable_session_tags = ?5, target_role_arn = ?6, external_id = ?7, policy = ?8 \
                 WHERE cluster = ?1 AND id = ?2",
                params![
                    association.cluster_name,
                    association.association_id,
                    association.role_arn,
                    association.modified_at,
                    association.disable_session_tags,
                    association.target_role_arn,
                    association.external_id,
                    association.policy,
                ],
            )
            .map_err(backend)?;
        if changed != 1 {
            return Ok(None);
        }
        mirror_insert(&mut self.mirror(), association);
        Ok(Some(association.clone()))
    }

    fn delete(&self, cluster: &str, id: &str) -> Result<Option<Association>, StoreError> {
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(backend)?;
        let existing = select_one(
            &transaction,
            "cluster = ?1 AND id = ?2",
            params![cluster, id],
        )?;
        if existing.is_some() {
            transaction
                .execute(
                    "DELETE FROM associations WHERE cluster = ?1 AND id = ?2",
                    [cluster, id],
                )
                .map_err(backend)?;
            transaction.commit().map_err(backend)?;
        }
        if let Some(deleted) = &existing {
            mirror_remove(&mut self.mirror(), deleted);
        }
        Ok(existing)
    }
}

/// The earlier answer to a Create with this token, if there is one to give.
fn replay(
    transaction: &Transaction<'_>,
    cluster: &str,
    request: &Idempotency,
) -> Result<Option<CreateOutcome>, StoreError> {
    let earlier: Option<(String, String)> = transaction
        .query_row(
            "SELECT fingerprint, association_id FROM create_requests \
             WHERE cluster = ?1 AND token = ?2",
            [cluster, &request.token],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(backend)?;
    let Some((fingerprint, id)) = earlier else {
        return Ok(None);
    };
    if fingerprint != request.fingerprint {
        return Ok(Some(CreateOutcome::TokenReused));
    }
    // A replay of a Create whose association was deleted since creates it afresh.
    let created = select_one(
        transaction,
        "cluster = ?1 AND id = ?2",
        params![cluster, id],
    )?;
    Ok(created.map(CreateOutcome::Replayed))
}

fn insert(transaction: &Transaction<'_>, association: &Association) -> Result<(), StoreError> {
    let tags = serde_json::to_string(&association.tags)
        .map_err(|e| StoreError::Backend(format!("encoding tags: {e}")))?;
    transaction
        .execute(
            "INSERT INTO associations (id, cluster, namespace, service_account, role_arn, \
             association_arn, tags, created_at, modified_at, owner_arn, disable_session_tags, \
             target_role_arn, external_id, policy) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                association.association_id,
                association.cluster_name,
                association.namespace,
                association.service_account,
                association.role_arn,
                association.association_arn,
                tags,
                association.created_at,
                association.modified_at,
                association.owner_arn,
                association.disable_session_tags,
                association.target_role_arn,
                association.external_id,
                association.policy,
            ],
        )
        .map_err(backend)?;
    Ok(())
}

fn load_all(connection: &Connection) -> Result<Vec<Association>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM associations");
    let mut statement = connection.prepare(&sql).map_err(backend)?;
    let rows = statement.query_map([], read_row).map_err(backend)?;
    let mut all = Vec::new();
    for row in rows {
        all.push(row.map_err(backend)??.1);
    }
    Ok(all)
}

fn select_one(
    connection: &Connection,
    condition: &str,
    parameters: impl rusqlite::Params,
) -> Result<Option<Association>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM associations WHERE {condition}");
    let found = connection
        .prepare_cached(&sql)
        .map_err(backend)?
        .query_row(parameters, read_row)
        .optional()
        .map_err(backend)?;
    found
        .transpose()
        .map(|row| row.map(|(_, association)| association))
}

type ReadRow = Result<(i64, Association), StoreError>;

fn read_row(row: &Row<'_>) -> rusqlite::Result<ReadRow> {
    let tags: String = row.get(7)?;
    let tags: Tags = match serde_json::from_str(&tags) {
        Ok(tags) => tags,
        Err(error) => return Ok(Err(StoreError::Corrupt(format!("tags: {error}")))),
    };
    let association = Association {
        association_id: row.get(1)?,
        cluster_name: row.get(2)?,
        namespace: row.get(3)?,
        service_account: row.get(4)?,
        role_arn: row.get(5)?,
        association_arn: row.get(6)?,
        tags,
        created_at: row.get(8)?,
        modified_at: row.get(9)?,
        owner_arn: row.get(10)?,
        disable_session_tags: row.get(11)?,
        target_role_arn: row.get(12)?,
        external_id: row.get(13)?,
        policy: row.get(14)?,
    };
    Ok(Ok((row.get(0)?, association)))
}

#[cfg(test)]
mod tests;
