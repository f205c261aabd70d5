use std::path::PathBuf;
use std::time::Duration;

use super::*;

struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("podid-node-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir.join("credentials"))
    }

    /// A provider that reads this file again every minute, on tokio's paused clock.
    fn read_every_minute(&self) -> NodeCredentialsProvider {
        let rotating = RotatingSharedCredentials::new(&self.0, Duration::from_secs(60));
        NodeCredentialsProvider::new(
            NodeCredentialSource::RotatingFile(rotating),
            Clock::tokio_at(1_000_000),
        )
    }

    fn write_keys(&self, key_id: &str) {
        let text = format!("[default]\naws_access_key_id={key_id}\naws_secret_access_key=s\n");
        std::fs::write(&self.0, text).unwrap();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

fn keys(expires_at: Option<i64>) -> NodeCredentials {
    NodeCredentials {
        access_key_id: "ASIANODE".into(),
        secret_access_key: Secret::new("s"),
        session_token: None,
        expires_at,
    }
}

async fn key_id(provider: &NodeCredentialsProvider) -> String {
    provider.credentials().await.unwrap().access_key_id.clone()
}

#[tokio::test(start_paused = true)]
async fn fixed_keys_are_loaded_once_and_kept() {
    let source = NodeCredentialSource::Fixed {
        credentials: keys(None),
        origin: "test".into(),
    };
    let provider = NodeCredentialsProvider::new(source, Clock::tokio_at(1_000_000));
    let first = provider.credentials().await.unwrap();
    tokio::time::advance(Duration::from_secs(86_400 * 365)).await;
    let later = provider.credentials().await.unwrap();
    assert!(Arc::ptr_eq(&first, &later));
}

#[tokio::test(start_paused = true)]
async fn a_rotating_file_is_read_again_after_its_interval() {
    let file = TempFile::new("rotation");
    file.write_keys("ASIAFIRST");
    let provider = file.read_every_minute();
    assert_eq!(key_id(&provider).await, "ASIAFIRST");

    file.write_keys("ASIASECOND");
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(key_id(&provider).await, "ASIAFIRST");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(key_id(&provider).await, "ASIASECOND");
}

#[tokio::test(start_paused = true)]
async fn held_keys_serve_while_a_reload_fails_and_the_file_is_tried_again() {
    let file = TempFile::new("broken");
    file.write_keys("ASIAHELD");
    let provider = file.read_every_minute();
    provider.credentials().await.unwrap();

    std::fs::write(&file.0, "[default]\naws_access_key_id = ASIABROKEN\n").unwrap();
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(key_id(&provider).await, "ASIAHELD");

    file.write_keys("ASIAREPAIRED");
    tokio::time::advance(Duration::from_secs(RELOAD_PAUSE_SECONDS as u64)).await;
    assert_eq!(key_id(&provider).await, "ASIAREPAIRED");
}

#[tokio::test]
async fn without_a_source_every_call_says_why() {
    let provider = NodeCredentialsProvider::new(
        NodeCredentialSource::Unavailable("no source is configured".into()),
        Clock::System,
    );
    assert_eq!(
        provider.credentials().await.unwrap_err(),
        "no source is configured"
    );
}

#[test]
fn expiring_keys_are_reloaded_five_minutes_early_but_not_in_a_loop() {
    let now = 1_000_000;
    let reload_at = |expires_at| Loaded::expiring(keys(expires_at), now).reload_at;
    assert_eq!(reload_at(Some(now + 3600)), Some(now + 3600 - 300));
    assert_eq!(reload_at(Some(now + 120)), Some(now + RELOAD_PAUSE_SECONDS));
    assert_eq!(reload_at(None), None);
}

#[test]
fn keys_about_to_expire_are_not_used() {
    let now = 1_000_000;
    let loaded = |expires_at| Loaded::expiring(keys(Some(expires_at)), now - 3600);
    assert!(loaded(now + 60).is_usable(now));
    assert!(!loaded(now + 600).is_due(now));
    assert!(!loaded(now + EXPIRY_MARGIN_SECONDS).is_usable(now));
    assert!(loaded(now + EXPIRY_MARGIN_SECONDS).is_due(now));
}

#[tokio::test(start_paused = true)]
async fn keys_of_a_broken_rotating_file_are_dropped_after_the_grace() {
    let file = TempFile::new("grace");
    file.write_keys("ASIAHELD");
    let provider = file.read_every_minute();
    provider.credentials().await.unwrap();
    std::fs::remove_file(&file.0).unwrap();
    let until = 60 + ROTATING_GRACE_SECONDS - EXPIRY_MARGIN_SECONDS;
    tokio::time::advance(Duration::from_secs(until as u64 - 1)).await;
    assert_eq!(key_id(&provider).await, "ASIAHELD");
    tokio::time::advance(Duration::from_secs(1)).await;
    let problem = provider.credentials().await.unwrap_err();
    assert!(problem.starts_with("cannot read "), "{problem}");
}
