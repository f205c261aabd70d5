//! The cache on paused tokio time, against a scripted upstream.

use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use podid_core::container::RoleCredentials;
use serde_json::json;

use super::*;

const HOUR: u64 = 3600;
const START: i64 = 1_700_000_000;

/// An upstream that counts its calls and answers as told.
#[derive(Clone)]
struct FakeUpstream {
    calls: Arc<AtomicUsize>,
    failure: Arc<Mutex<Option<ErrorCode>>>,
    lifetime: Duration,
    latency: Duration,
    clock: Clock,
}

impl FakeUpstream {
    fn new(clock: Clock, lifetime: Duration) -> Self {
        Self {
            calls: Arc::default(),
            failure: Arc::default(),
            lifetime,
            latency: Duration::from_millis(50),
            clock,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn fail_with(&self, code: Option<ErrorCode>) {
        *self.failure.lock().unwrap() = code;
    }
}

impl CredentialSource for FakeUpstream {
    async fn fetch(&self, _token: &Secret) -> Result<RoleCredentials, UpstreamError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.latency).await;
        if let Some(code) = *self.failure.lock().unwrap() {
            return Err(UpstreamError::new(
                code,
                format!("scripted {}", code.short_name()),
            ));
        }
        Ok(RoleCredentials {
            access_key_id: format!("ASIA{call:012}"),
            secret_access_key: Secret::new("secret"),
            session_token: Secret::new("session"),
            expiration: self.clock.now_unix() + self.lifetime.as_secs() as i64,
            account_id: "111122223333".into(),
        })
    }
}

fn token(pod: &str, token_lifetime: Duration, serial: u32) -> UnverifiedToken {
    let encode = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let claims = json!({
        "iss": "https://issuer.test", "jti": serial,
        "exp": START + token_lifetime.as_secs() as i64, "nbf": START,
        "kubernetes.io": {
            "namespace": "default",
            "serviceaccount": {"name": "app", "uid": "sa-1"},
            "pod": {"name": pod, "uid": format!("{pod}-uid")}
        }
    });
    let raw = format!("{}.{}.sig", encode(json!({"alg": "RS256"})), encode(claims));
    UnverifiedToken::parse(&raw).unwrap()
}

fn cache_with(upstream: &FakeUpstream, settings: CacheSettings) -> CredentialCache<FakeUpstream> {
    CredentialCache::new(
        upstream.clone(),
        settings,
        upstream.clock,
        AgentMetrics::default(),
    )
}

fn setup(credential_lifetime: Duration) -> (FakeUpstream, CredentialCache<FakeUpstream>) {
    let upstream = FakeUpstream::new(Clock::tokio_at(START), credential_lifetime);
    let cache = cache_with(&upstream, CacheSettings::default());
    (upstream, cache)
}

/// The access key id of the credentials served for `token`, from the full path and, when the
/// token was accepted before, from the hit path too, which must agree.
async fn key_id(cache: &CredentialCache<FakeUpstream>, token: &UnverifiedToken) -> String {
    let served = cache.get(token).await.unwrap();
    if let Some(hit) = cache.get_accepted(token.raw().expose()) {
        assert_eq!(
            hit.body, served.body,
            "both paths serve the same credentials"
        );
    }
    let body: serde_json::Value = serde_json::from_slice(&served.body).unwrap();
    body["AccessKeyId"].as_str().unwrap().to_owned()
}

/// Moves time on a minute at a time, letting every timer that falls due run as it would.
async fn advance(duration: Duration) {
    let step = Duration::from_secs(60);
    let mut left = duration;
    while !left.is_zero() {
        let this_step = left.min(step);
        tokio::time::sleep(this_step).await;
        left -= this_step;
    }
}

#[tokio::test(start_paused = true)]
async fn a_second_request_is_a_hit() {
    let (upstream, cache) = setup(Duration::from_secs(6 * HOUR));
    let pod = token("web", Duration::from_secs(24 * HOUR), 1);
    let first = key_id(&cache, &pod).await;
    assert_eq!(key_id(&cache, &pod).await, first);
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_first_requests_make_one_call_and_share_its_error() {
    let (upstream, cache) = setup(Duration::from_secs(6 * HOUR));
    upstream.fail_with(Some(ErrorCode::AccessDenied));
    let pod = token("web", Duration::from_secs(24 * HOUR), 1);
    let requests: Vec<_> = (0..100).map(|_| cache.get(&pod)).collect();
    for result in futures_util::future::join_all(requests).await {
        assert_eq!(result.unwrap_err().code, ErrorCode::AccessDenied);
    }
    assert_eq!(upstream.calls(), 1);
    assert!(cache.is_empty(), "an error is never cached");
}

#[tokio::test(start_paused = true)]
async fn refreshes_ahead_of_expiry_on_its_own() {
    let (upstream, cache) = setup(Duration::from_secs(6 * HOUR));
    let pod = token("web", Duration::from_secs(24 * HOUR), 1);
    let first = key_id(&cache, &pod).await;

    // The retention limit (3 h, less jitter) comes before the refresh-ahead point (5 h 40).
    advance(Duration::from_secs(3 * HOUR)).await;
    assert_eq!(
        upstream.calls(),
        2,
        "one refresh within the retention period"
    );
    let refreshed = key_id(&cache, &pod).await;
    assert_ne!(refreshed, first);
    assert_eq!(
        upstream.calls(),
        2,
        "the pod got the refreshed credentials from the cache"
    );
}

#[tokio::test(start_paused = true)]
async fn short_lived_credentials_refresh_before_the_sdk_needs_them() {
    let (upstream, cache) = setup(Duration::from_secs(HOUR));
    let pod = token("web", Duration::from_secs(24 * HOUR), 1);
    key_id(&cache, &pod).await;
    advance(Duration::from_secs(35 * 60)).await;
    assert_eq!(
        upstream.calls(),
        1,
        "not refreshed before 40 min less 10 % jitter"
    );
    advance(Duration::from_secs(5 * 60 + 1)).await;
    assert_eq!(upstream.calls(), 2, "refreshed 20 minutes before expiry");
}

#[tokio::test(start_paused = true)]
async fn serves_cached_credentials_while_upstream_is_down() {
    let (upstream, cache) = setup(Duration::from_secs(HOUR));
    let pod = token("web", Duration::from_secs(24 * HOUR), 1);
    let first = key_id(&cache, &pod).await;
    upstream.fail_with(Some(ErrorCode::ServiceUnavailable));

    advance(Duration::from_secs(50 * 60)).await;
    assert!(upstream.calls() >= 3, "the failed refresh is retried");
    assert_eq!(key_id(&cache, &pod).await, first);

    upstream.fail_with(None);
    advance(Duration::from_secs(5 * 60)).await;
    assert_ne!(
        key_id(&cache, &pod).await,
        first,
        "recovered on a retry, before expiry"
    );
}

#[tokio::test(start_paused = true)]
async fn credentials_are_not_served_past_expiry() {
    let (upstream, cache) = setup(Duration::from_secs(HOUR));
    let pod = token("web", Duration::from_secs(24 * HOUR), 1);
    key_id(&cache, &pod).await;
    upstream.fail_with(Some(ErrorCode::ServiceUnavailable));
    advance(Duration::from_secs(HOUR - 10)).await;
    let error = cache.get(&pod).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ServiceUnavailable);
}

#[tokio::test(start_paused = true)]
async fn an_irrecoverable_refresh_error_evicts() {
    let (upstream, cache) = setup(Duration::from_secs(HOUR));
    let pod = token("web", Duration::from_secs(24 * HOUR), 1);
    key_id(&cache, &pod).await;
    upstream.fail_with(Some(ErrorCode::ResourceNotFound));
    advance(Duration::from_secs(40 * 60)).await;
    assert!(cache.is_empty());
    let error = cache.get(&pod).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ResourceNotFound);
}

#[tokio::test(start_paused = true)]
async fn no_refresh_once_the_pod_token_has_expired() {
    let (upstream, cache) = setup(Duration::from_secs(6 * HOUR));
    let pod = token("gone", Duration::from_secs(2 * HOUR), 1);
    key_id(&cache, &pod).await;
    advance(Duration::from_secs(12 * HOUR)).await;
    assert_eq!(
        upstream.calls(),
        1,
        "no ghost refresh with an expired token"
    );
    assert!(cache.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_pod_that_stopped_asking_is_dropped_after_one_lifetime() {
    let (upstream, cache) = setup(Duration::from_secs(HOUR));
    let pod = token("gone", Duration::from_secs(24 * HOUR), 1);
    key_id(&cache, &pod).await;
    advance(Duration::from_secs(5 * HOUR)).await;
    assert_eq!(upstream.calls(), 2, "one refresh, then dropped as idle");
    assert!(cache.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_pod_that_keeps_asking_keeps_being_refreshed() {
    let (upstream, cache) = setup(Duration::from_secs(HOUR));
    let pod = token("web", Duration::from_secs(24 * HOUR), 1);
    key_id(&cache, &pod).await;
    for _ in 0..5 {
        advance(Duration::from_secs(45 * 60)).await;
        key_id(&cache, &pod).await;
    }
    assert_eq!(cache.len(), 1);
    assert!(upstream.calls() >= 6, "calls: {}", upstream.calls());
}

#[tokio::test(start_paused = true)]
async fn the_least_recently_used_pod_makes_room() {
    let upstream = FakeUpstream::new(Clock::tokio_at(START), Duration::from_secs(HOUR));
    let settings = CacheSettings {
        max_entries: 2,
        ..CacheSettings::default()
    };
    let cache = cache_with(&upstream, settings);
    let (a, b, c) = (
        token("a", Duration::from_secs(HOUR), 1),
        token("b", Duration::from_secs(HOUR), 1),
        token("c", Duration::from_secs(HOUR), 1),
    );
    for pod in [&a, &b, &a, &c] {
        key_id(&cache, pod).await;
        advance(Duration::from_secs(1)).await;
    }
    assert_eq!(cache.len(), 2);
    assert_eq!(upstream.calls(), 3);
    key_id(&cache, &a).await;
    assert_eq!(upstream.calls(), 3, "a was used recently and stayed");
    key_id(&cache, &b).await;
    assert_eq!(upstream.calls(), 4, "b was evicted");
}

#[tokio::test(start_paused = true)]
async fn a_rotated_token_joins_its_pod_entry_once_accepted() {
    let (upstream, cache) = setup(Duration::from_secs(6 * HOUR));
    let old = token("web", Duration::from_secs(24 * HOUR), 1);
    let rotated = token("web", Duration::from_secs(25 * HOUR), 2);
    key_id(&cache, &old).await;
    let fresh = key_id(&cache, &rotated).await;
    assert_eq!(
        upstream.calls(),
        2,
        "an unseen token is always checked upstream"
    );
    assert_eq!(cache.len(), 1, "one entry per pod");
    assert_eq!(key_id(&cache, &old).await, fresh);
    assert_eq!(key_id(&cache, &rotated).await, fresh);
    assert_eq!(upstream.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_forged_token_naming_a_cached_pod_gets_nothing() {
    let (upstream, cache) = setup(Duration::from_secs(6 * HOUR));
    let genuine = token("web", Duration::from_secs(24 * HOUR), 1);
    let forged = token("web", Duration::from_secs(24 * HOUR), 666);
    let genuine_key = key_id(&cache, &genuine).await;

    upstream.fail_with(Some(ErrorCode::InvalidToken));
    assert_eq!(
        cache.get(&forged).await.unwrap_err().code,
        ErrorCode::InvalidToken
    );
    upstream.fail_with(None);
    assert_eq!(
        key_id(&cache, &genuine).await,
        genuine_key,
        "the genuine entry is untouched"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_that_gives_up_does_not_cancel_the_others() {
    let (upstream, cache) = setup(Duration::from_secs(6 * HOUR));
    let pod = token("web", Duration::from_secs(24 * HOUR), 1);
    let impatient = tokio::time::timeout(Duration::from_millis(10), cache.get(&pod)).await;
    assert!(impatient.is_err(), "the first caller gave up");
    assert!(cache.get(&pod).await.is_ok());
    assert_eq!(
        upstream.calls(),
        1,
        "the second caller joined the call the first one started"
    );
}

#[tokio::test(start_paused = true)]
async fn the_hit_path_serves_only_accepted_tokens_that_are_still_good() {
    let (upstream, cache) = setup(Duration::from_secs(HOUR));
    let pod = token("web", Duration::from_secs(2 * HOUR), 1);
    assert!(
        cache.get_accepted(pod.raw().expose()).is_none(),
        "nothing accepted yet"
    );
    key_id(&cache, &pod).await;
    assert!(cache.get_accepted(pod.raw().expose()).is_some());

    let rotated = token("web", Duration::from_secs(3 * HOUR), 2);
    assert!(
        cache.get_accepted(rotated.raw().expose()).is_none(),
        "unseen token"
    );
    let mut altered = pod.raw().expose().to_owned();
    altered.push('x');
    assert!(cache.get_accepted(&altered).is_none());

    upstream.fail_with(Some(ErrorCode::ServiceUnavailable));
    advance(Duration::from_secs(HOUR - 10)).await;
    assert!(
        cache.get_accepted(pod.raw().expose()).is_none(),
        "credentials about to expire"
    );
}

#[tokio::test(start_paused = true)]
async fn caching_can_be_disabled() {
    let upstream = FakeUpstream::new(Clock::tokio_at(START), Duration::from_secs(HOUR));
    let settings = CacheSettings {
        max_retention: Duration::ZERO,
        ..CacheSettings::default()
    };
    let cache = cache_with(&upstream, settings);
    let pod = token("web", Duration::from_secs(HOUR), 1);
    key_id(&cache, &pod).await;
    key_id(&cache, &pod).await;
    assert_eq!(upstream.calls(), 2);
    assert!(cache.is_empty());
}
