//! The five pod identity association operations of the EKS API.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use podid_core::associations::{
    Association, AssociationSummary, CreateRequest, NewAssociation, UpdateRequest, apply_update,
    association_arn, association_id, validate_create,
};
use podid_core::percent::query_pairs;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::config::ClusterConfig;
use crate::store::{AssociationStore, CreateOutcome, Idempotency, ListQuery};

/// Answers of List hold this many associations unless `maxResults` says otherwise.
const DEFAULT_PAGE: usize = 100;

/// A store call on tokio's blocking pool.
async fn blocking<S, T>(
    store: &Arc<S>,
    call: impl FnOnce(&S) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError>
where
    S: AssociationStore,
    T: Send + 'static,
{
    let store = Arc::clone(store);
    let joined = tokio::task::spawn_blocking(move || call(&store)).await;
    match joined {
        Ok(result) => result.map_err(|error| ApiError::server(&error)),
        Err(_) => Err(ApiError::server(&crate::store::StoreError::Backend(
            "a store call panicked".into(),
        ))),
    }
}

pub async fn create<S: AssociationStore>(
    store: &Arc<S>,
    cluster: &ClusterConfig,
    limit: usize,
    body: &[u8],
) -> Result<Value, ApiError> {
    let request: CreateRequest = parse_body(body)?;
    let new = validate_create(&request).map_err(ApiError::invalid_parameter)?;
    let idempotency = request
        .client_request_token
        .as_ref()
        .map(|token| Idempotency {
            token: token.clone(),
            fingerprint: fingerprint(&new),
        });
    let association = new_association(cluster, new);

    let outcome = blocking(store, move |store| {
        store.create(&association, idempotency.as_ref(), limit)
    })
    .await?;
    match outcome {
        CreateOutcome::Created(association) => {
            tracing::info!(
                cluster = %association.cluster_name, namespace = %association.namespace,
                service_account = %association.service_account, role = %association.role_arn,
                id = %association.association_id, "association created"
            );
            Ok(json!({"association": association}))
        }
        CreateOutcome::Replayed(association) => Ok(json!({"association": association})),
        CreateOutcome::InUse(existing) => Err(ApiError::in_use(format!(
            "Association already exists: {}",
            existing.association_id
        ))),
        CreateOutcome::TokenReused => Err(ApiError::invalid_request(
            "clientRequestToken was already used for a different request",
        )),
        CreateOutcome::LimitReached(limit) => Err(ApiError::limit_exceeded(format!(
            "cluster {} already has the maximum of {limit} pod identity associations",
            cluster.name
        ))),
    }
    .map_err(|error| error.for_cluster(&cluster.name))
}

pub async fn describe<S: AssociationStore>(
    store: &Arc<S>,
    cluster: &ClusterConfig,
    id: &str,
) -> Result<Value, ApiError> {
    let association = fetch(store, cluster, id).await?;
    Ok(json!({"association": association}))
}

pub async fn update<S: AssociationStore>(
    store: &Arc<S>,
    cluster: &ClusterConfig,
    id: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let request: UpdateRequest = parse_body(body)?;
    let current = fetch(store, cluster, id).await?;
    let mut updated = apply_update(&current, &request)
        .map_err(|message| ApiError::invalid_parameter(message).for_cluster(&cluster.name))?;
    updated.external_id = updated
        .target_role_arn
        .as_ref()
        .map(|_| external_id(cluster, &updated.namespace, &updated.service_account));
    updated.modified_at = now();

    let stored = blocking(store, move |store| store.update(&updated)).await?;
    let association = stored.ok_or_else(|| missing(cluster, id))?;
    tracing::info!(cluster = %cluster.name, id, role = %association.role_arn,
        "association updated");
    Ok(json!({"association": association}))
}

pub async fn delete<S: AssociationStore>(
    store: &Arc<S>,
    cluster: &ClusterConfig,
    id: &str,
) -> Result<Value, ApiError> {
    let (name, owned_id) = (cluster.name.clone(), id.to_owned());
    let deleted = blocking(store, move |store| store.delete(&name, &owned_id)).await?;
    let association = deleted.ok_or_else(|| missing(cluster, id))?;
    tracing::info!(cluster = %cluster.name, id, "association deleted");
    Ok(json!({"association": association}))
}

pub async fn list<S: AssociationStore>(
    store: &Arc<S>,
    cluster: &ClusterConfig,
    query: Option<&str>,
) -> Result<Value, ApiError> {
    let list_query = parse_list_query(&cluster.name, query.unwrap_or_default())?;
    let page = blocking(store, move |store| store.list(&list_query)).await?;
    let summaries: Vec<AssociationSummary> = page
        .associations
        .iter()
        .map(AssociationSummary::from)
        .collect();
    let mut answer = json!({"associations": summaries});
    if let Some(next) = page.next {
        answer["nextToken"] = json!(encode_next_token(next));
    }
    Ok(answer)
}

async fn fetch<S: AssociationStore>(
    store: &Arc<S>,
    cluster: &ClusterConfig,
    id: &str,
) -> Result<Association, ApiError> {
    let (name, owned_id) = (cluster.name.clone(), id.to_owned());
    let found = blocking(store, move |store| store.get(&name, &owned_id)).await?;
    found.ok_or_else(|| missing(cluster, id))
}

fn missing(cluster: &ClusterConfig, id: &str) -> ApiError {
    ApiError::not_found(format!("No Pod Identity Association found for id: {id}"))
        .for_cluster(&cluster.name)
}

fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::invalid_request(format!("request body is not valid: {error}")))
}

fn parse_list_query(cluster: &str, query: &str) -> Result<ListQuery, ApiError> {
    let mut list = ListQuery {
        cluster: cluster.to_owned(),
        limit: DEFAULT_PAGE,
        ..ListQuery::default()
    };
    for (key, value) in query_pairs(query) {
        match key.as_str() {
            "namespace" => list.namespace = Some(value),
            "serviceAccount" => list.service_account = Some(value),
            "maxResults" => {
                list.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid_parameter(format!(
                            "maxResults {value:?} is invalid: it must be between 1 and 100"
                        ))
                    })?;
            }
            "nextToken" => {
                list.after = Some(decode_next_token(&value).ok_or_else(|| {
                    ApiError::invalid_parameter("nextToken is invalid or has expired")
                })?);
            }
            _ => {}
        }
    }
    Ok(list)
}

/// Page tokens are opaque to clients; inside they are the store position a page ended at.
fn encode_next_token(position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("podid-page:{position}"))
}

fn decode_next_token(token: &str) -> Option<i64> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.strip_prefix("podid-page:")?
        .parse()
        .ok()
        .filter(|p| *p >= 0)
}

fn new_association(cluster: &ClusterConfig, new: NewAssociation) -> Association {
    let mut random = [0u8; 17];
    random.iter_mut().for_each(|b| *b = fastrand::u8(..));
    let id = association_id(random);
    let created = now();
    let external_id = new
        .target_role_arn
        .as_ref()
        .map(|_| external_id(cluster, &new.namespace, &new.service_account));
    Association {
        association_arn: association_arn(&cluster.region, &cluster.account, &cluster.name, &id),
        association_id: id,
        cluster_name: cluster.name.clone(),
        namespace: new.namespace,
        service_account: new.service_account,
        role_arn: new.role_arn,
        tags: new.tags,
        created_at: created,
        modified_at: created,
        owner_arn: None,
        disable_session_tags: new.disable_session_tags,
        target_role_arn: new.target_role_arn,
        external_id,
        policy: new.policy,
    }
}

/// The external id the second AssumeRole into a target role carries, naming where the pod is.
fn external_id(cluster: &ClusterConfig, namespace: &str, service_account: &str) -> String {
    format!(
        "{}/{}/{}/{namespace}/{service_account}",
        cluster.region, cluster.account, cluster.name
    )
}

/// What makes two Creates the same request, for idempotency.
fn fingerprint(new: &NewAssociation) -> String {
    json!([
        new.namespace,
        new.service_account,
        new.role_arn,
        new.tags,
        new.disable_session_tags,
        new.target_role_arn,
        new.policy
    ])
    .to_string()
}

/// Now, in Unix seconds with millisecond fractions, as EKS writes timestamps.
fn now() -> f64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (elapsed.as_millis() as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_forgeries() {
        assert_eq!(decode_next_token(&encode_next_token(42)), Some(42));
        for forged in ["", "42", "!!!", &URL_SAFE_NO_PAD.encode("podid-page:-1")] {
            assert_eq!(decode_next_token(forged), None, "{forged}");
        }
    }

    #[test]
    fn max_results_must_be_within_1_to_100() {
        for bad in ["0", "101", "x", "-1"] {
            let error = parse_list_query("c", &format!("maxResults={bad}")).unwrap_err();
            assert_eq!(error.kind, "InvalidParameterException");
        }
        assert_eq!(parse_list_query("c", "maxResults=100").unwrap().limit, 100);
    }
}
