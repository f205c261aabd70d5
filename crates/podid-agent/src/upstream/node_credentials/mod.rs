//! The node's own AWS credentials, which sign the agent's calls to EKS Auth.
//!
//! The source is chosen once, at start, in the order of the AWS SDKs' default chain:
//! environment variables, a profile's static keys in the shared files, web identity, container
//! credentials, then the instance metadata service. `--rotate-credentials` replaces the chain
//! with the shared credentials file read again every minute. Credentials that expire are loaded
//! again five minutes before they do; while a reload fails, the ones held keep being used until
//! they expire.

mod container;
mod imds;
mod profile;
mod web_identity;

use std::fmt;
use std::sync::{Arc, Mutex};

use podid_core::Secret;

use crate::clock::Clock;
use crate::upstream::environment::setting;
use crate::upstream::http_client::HttpClient;

pub use container::ContainerCredentials;
pub use imds::InstanceMetadata;
pub use profile::{ROTATION_INTERVAL, RotatingSharedCredentials, region as profile_region};
pub use web_identity::WebIdentity;

/// Credentials are loaded again this long before they expire.
const RELOAD_BEFORE_EXPIRY_SECONDS: i64 = 300;
/// After a failed reload, or when a source hands out credentials close to expiry, the next
/// reload waits at least this long, so that the source is not asked at every exchange.
const RELOAD_PAUSE_SECONDS: i64 = 30;
/// Credentials this close to expiry are not used to sign: the request could arrive after.
const EXPIRY_MARGIN_SECONDS: i64 = 10;
/// How long keys read from a rotating file stay in use after it should have been read again.
const ROTATING_GRACE_SECONDS: i64 = 60;

/// Access keys of the node, with the expiry of temporary ones (Unix seconds).
#[derive(Debug, Clone)]
pub struct NodeCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub expires_at: Option<i64>,
}

/// Where the node's credentials come from.
pub enum NodeCredentialSource {
    /// Keys that do not change while the agent runs: environment variables or a profile.
    Fixed {
        credentials: NodeCredentials,
        origin: String,
    },
    RotatingFile(RotatingSharedCredentials),
    WebIdentity(WebIdentity),
    Container(ContainerCredentials),
    InstanceMetadata(InstanceMetadata),
    /// Nothing is configured: every exchange fails with this explanation.
    Unavailable(String),
}

impl NodeCredentialSource {
    /// The first source the environment configures. An error is a configuration that cannot
    /// work, such as an access key id without its secret.
    pub fn from_environment(
        http: &HttpClient,
        instance_metadata: Option<InstanceMetadata>,
        region: &str,
    ) -> Result<Self, String> {
        if let Some(credentials) = environment_keys()? {
            return Ok(Self::Fixed {
                credentials,
                origin: "the environment's AWS_ACCESS_KEY_ID".into(),
            });
        }
        if let Some((credentials, origin)) = profile::static_keys()? {
            return Ok(Self::Fixed {
                credentials,
                origin,
            });
        }
        if let Some(web_identity) = WebIdentity::from_environment(http.clone(), region)? {
            return Ok(Self::WebIdentity(web_identity));
        }
        if let Some(container) = ContainerCredentials::from_environment(http.clone())? {
            return Ok(Self::Container(container));
        }
        if let Some(imds) = instance_metadata {
            return Ok(Self::InstanceMetadata(imds));
        }
        Ok(Self::Unavailable(
            "no source is configured: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a \
             profile with static keys, a web identity role, or container credentials, or run \
             on EC2 with instance metadata enabled"
                .into(),
        ))
    }

    /// Where the credentials come from, for the start-up report.
    pub fn describe(&self) -> String {
        match self {
            Self::Fixed { origin, .. } => origin.clone(),
            Self::RotatingFile(file) => format!(
                "the default profile of {}, read again every {:?}",
                file.file().display(),
                file.interval()
            ),
            Self::WebIdentity(web_identity) => {
                format!(
                    "the role {}, assumed with a web identity token",
                    web_identity.role_arn()
                )
            }
            Self::Container(container) => format!("container credentials at {}", container.uri()),
            Self::InstanceMetadata(imds) => {
                format!(
                    "the instance role, from instance metadata at {}",
                    imds.endpoint()
                )
            }
            Self::Unavailable(why) => format!("nothing ({why})"),
        }
    }

    async fn load(&self, now: i64) -> Result<Loaded, String> {
        match self {
            Self::Fixed { credentials, .. } => Ok(Loaded::forever(credentials.clone())),
            Self::RotatingFile(file) => {
                let interval = file.interval().as_secs() as i64;
                Ok(Loaded {
                    credentials: Arc::new(file.load()?),
                    reload_at: Some(now + interval),
                    // The file does not say when its keys expire; they are trusted for a
                    // while after the file should have been read again, in case it was read
                    // in the middle of being rewritten.
                    usable_until: Some(now + interval + ROTATING_GRACE_SECONDS),
                })
            }
            Self::WebIdentity(web_identity) => {
                Ok(Loaded::expiring(web_identity.credentials().await?, now))
            }
            Self::Container(container) => Ok(Loaded::expiring(container.credentials().await?, now)),
            Self::InstanceMetadata(imds) => Ok(Loaded::expiring(imds.credentials().await?, now)),
            Self::Unavailable(why) => Err(why.clone()),
        }
    }
}

impl fmt::Debug for NodeCredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Keys from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
fn environment_keys() -> Result<Option<NodeCredentials>, String> {
    let Some(access_key_id) = setting("AWS_ACCESS_KEY_ID") else {
        return Ok(None);
    };
    let secret = setting("AWS_SECRET_ACCESS_KEY")
        .ok_or("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")?;
    Ok(Some(NodeCredentials {
        access_key_id,
        secret_access_key: Secret::new(secret),
        session_token: setting("AWS_SESSION_TOKEN").map(Secret::new),
        expires_at: None,
    }))
}

#[derive(Debug, Clone)]
struct Loaded {
    credentials: Arc<NodeCredentials>,
    /// `None`: never.
    reload_at: Option<i64>,
    /// `None`: as long as the agent runs.
    usable_until: Option<i64>,
}

impl Loaded {
    fn forever(credentials: NodeCredentials) -> Self {
        Self {
            credentials: Arc::new(credentials),
            reload_at: None,
            usable_until: None,
        }
    }

    /// Credentials that expire are reloaded five minutes before they do, but not sooner than
    /// the pause, for a source that hands out credentials close to their end.
    fn expiring(credentials: NodeCredentials, now: i64) -> Self {
        let usable_until = credentials.expires_at;
        let reload_at = usable_until.map(|expires_at| {
            (expires_at - RELOAD_BEFORE_EXPIRY_SECONDS).max(now + RELOAD_PAUSE_SECONDS)
        });
        Self {
            credentials: Arc::new(credentials),
            reload_at,
            usable_until,
        }
    }

    fn is_due(&self, now: i64) -> bool {
        self.reload_at.is_some_and(|at| now >= at) || !self.is_usable(now)
    }

    fn is_usable(&self, now: i64) -> bool {
        self.usable_until
            .is_none_or(|until| now + EXPIRY_MARGIN_SECONDS < until)
    }
}

/// The node's credentials, loaded when first needed and again when due; one load at a time.
#[derive(Debug)]
pub struct NodeCredentialsProvider {
    source: NodeCredentialSource,
    clock: Clock,
    current: Mutex<Option<Loaded>>,
    loading: tokio::sync::Mutex<()>,
}

impl NodeCredentialsProvider {
    pub fn new(source: NodeCredentialSource, clock: Clock) -> Self {
        Self {
            source,
            clock,
            current: Mutex::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// Credentials to sign with now, or why there are none.
    pub async fn credentials(&self) -> Result<Arc<NodeCredentials>, String> {
        if let Some(fresh) = self.fresh(self.clock.now_unix()) {
            return Ok(fresh);
        }
        let _one_load = self.loading.lock().await;
        let now = self.clock.now_unix();
        // Another caller may have loaded them while this one waited.
        if let Some(fresh) = self.fresh(now) {
            return Ok(fresh);
        }
        match self.source.load(now).await {
            Ok(loaded) => {
                let credentials = loaded.credentials.clone();
                *self.lock_current() = Some(loaded);
                Ok(credentials)
            }
            Err(problem) => {
                let mut current = self.lock_current();
                match current.as_mut().filter(|held| held.is_usable(now)) {
                    Some(held) => {
                        tracing::warn!(
                            "reloading the node's credentials failed, signing with the ones \
                             held until they expire: {problem}"
                        );
                        held.reload_at = Some(now + RELOAD_PAUSE_SECONDS);
                        Ok(held.credentials.clone())
                    }
                    None => Err(problem),
                }
            }
        }
    }

    fn fresh(&self, now: i64) -> Option<Arc<NodeCredentials>> {
        let current = self.lock_current();
        let loaded = current.as_ref()?;
        (!loaded.is_due(now)).then(|| loaded.credentials.clone())
    }

    fn lock_current(&self) -> std::sync::MutexGuard<'_, Option<Loaded>> {
        // The guarded value is replaced whole, so a panic elsewhere cannot leave it half
        // written: a poisoned lock is still safe to use.
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests;
