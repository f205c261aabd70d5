//! `--rotate-credentials`: the node's AWS keys read again from the shared credentials file
//! every minute.
//!
//! Nodes outside EC2, such as EKS hybrid nodes, have no instance metadata service; a local
//! service (SSM, IAM Roles Anywhere) writes short-lived keys to the shared credentials file and
//! rewrites it before they expire. The SDK's own profile provider reads that file once, so the
//! agent would sign with expired keys; this provider instead reports each reading as valid for
//! a minute only, and the SDK's credentials cache reads the file again when that runs out.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_eksauth::config::Credentials;

/// How long one reading of the file is used before the file is read again.
pub const ROTATION_INTERVAL: Duration = Duration::from_secs(60);

/// The profile whose keys are used, as the AWS agent does: `AWS_PROFILE` is not consulted,
/// because the file is written for the node, not for a person choosing among profiles.
const PROFILE: &str = "default";

/// The `default` profile's keys from a shared credentials file, re-read every interval.
#[derive(Debug, Clone)]
pub struct RotatingSharedCredentials {
    file: PathBuf,
    interval: Duration,
}

impl RotatingSharedCredentials {
    pub fn new(file: impl Into<PathBuf>, interval: Duration) -> Self {
        Self {
            file: file.into(),
            interval,
        }
    }

    /// Where the file is: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    pub fn default_file() -> Result<PathBuf, String> {
        if let Some(file) = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
            return Ok(PathBuf::from(file));
        }
        let home = std::env::var_os("HOME").ok_or(
            "--rotate-credentials needs the shared credentials file: set \
             AWS_SHARED_CREDENTIALS_FILE, or HOME for ~/.aws/credentials",
        )?;
        Ok(Path::new(&home).join(".aws").join("credentials"))
    }

    /// Reads the file now. Errors name the file and what is wrong, never a value from it.
    pub fn load(&self) -> Result<Credentials, String> {
        // A small local file read once a minute: blocking the worker for it is cheaper than
        // handing it to another thread.
        let text = std::fs::read_to_string(&self.file)
            .map_err(|error| format!("cannot read {}: {error}", self.file.display()))?;
        let keys = profile_keys(&text, PROFILE)
            .map_err(|problem| format!("{}: {problem}", self.file.display()))?;
        Ok(Credentials::new(
            keys.access_key_id,
            keys.secret_access_key,
            keys.session_token,
            Some(SystemTime::now() + self.interval),
            "podid rotating shared credentials file",
        ))
    }
}

impl ProvideCredentials for RotatingSharedCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(self.load().map_err(CredentialsError::provider_error))
    }
}

/// The keys of one profile of a shared credentials file.
#[derive(Debug, PartialEq, Eq)]
struct ProfileKeys {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

/// Reads `[profile]`'s keys from the INI text of a shared credentials file: `key = value`
/// lines under `[name]` headers, `#` and `;` starting comment lines. Problems are described
/// without quoting values, since the values are secrets.
fn profile_keys(text: &str, profile: &str) -> Result<ProfileKeys, String> {
    let mut in_profile = false;
    let mut seen_profile = false;
    let mut access_key_id = None;
    let mut secret_access_key = None;
    let mut session_token = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = header
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: a section header without ']'", index + 1))?;
            in_profile = name.trim() == profile;
            seen_profile |= in_profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected `key = value`", index + 1))?;
        let value = Some(value.trim().to_owned()).filter(|value| !value.is_empty());
        match key.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => access_key_id = value,
            "aws_secret_access_key" => secret_access_key = value,
            "aws_session_token" => session_token = value,
            _ => {}
        }
    }
    if !seen_profile {
        return Err(format!("no [{profile}] profile"));
    }
    let missing = |key: &str| format!("the [{profile}] profile has no {key}");
    Ok(ProfileKeys {
        access_key_id: access_key_id.ok_or_else(|| missing("aws_access_key_id"))?,
        secret_access_key: secret_access_key.ok_or_else(|| missing("aws_secret_access_key"))?,
        session_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# written by the node's credential service
[other]
aws_access_key_id = AKIDOTHER
aws_secret_access_key = other-secret

[default]
aws_access_key_id = ASIANODE
AWS_Secret_Access_Key=node-secret
; the session token of temporary keys
aws_session_token = node-session
region = us-west-2
";

    #[test]
    fn reads_the_default_profile_only() {
        let keys = profile_keys(FILE, "default").unwrap();
        assert_eq!(
            keys,
            ProfileKeys {
                access_key_id: "ASIANODE".into(),
                secret_access_key: "node-secret".into(),
                session_token: Some("node-session".into()),
            }
        );
    }

    #[test]
    fn long_lived_keys_have_no_session_token() {
        let text = "[default]\naws_access_key_id=AKID\naws_secret_access_key=s\n";
        assert_eq!(profile_keys(text, "default").unwrap().session_token, None);
    }

    #[test]
    fn problems_are_named_without_the_values() {
        let cases = [
            ("[other]\naws_access_key_id = A\n", "no [default] profile"),
            (
                "[default]\naws_secret_access_key = hidden-secret\n",
                "the [default] profile has no aws_access_key_id",
            ),
            (
                "[default]\naws_access_key_id = A\naws_secret_access_key =\n",
                "the [default] profile has no aws_secret_access_key",
            ),
            (
                "[default\naws_access_key_id = A\n",
                "line 1: a section header without ']'",
            ),
            (
                "[default]\nhidden-secret\n",
                "line 2: expected `key = value`",
            ),
        ];
        for (text, expected) in cases {
            let problem = profile_keys(text, "default").unwrap_err();
            assert_eq!(problem, expected, "{text:?}");
            assert!(!problem.contains("hidden-secret"));
        }
    }

    #[test]
    fn each_load_reads_the_file_again_and_expires_after_the_interval() {
        let dir = std::env::temp_dir().join(format!("podid-rotating-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials");
        let provider = RotatingSharedCredentials::new(&file, Duration::from_secs(60));

        let missing = provider.load().unwrap_err();
        assert!(missing.starts_with("cannot read "), "{missing}");

        std::fs::write(
            &file,
            "[default]\naws_access_key_id=AKIDONE\naws_secret_access_key=s1\n",
        )
        .unwrap();
        let first = provider.load().unwrap();
        assert_eq!(first.access_key_id(), "AKIDONE");
        let left = first
            .expiry()
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50));

        std::fs::write(
            &file,
            "[default]\naws_access_key_id=AKIDTWO\naws_secret_access_key=s2\n",
        )
        .unwrap();
        assert_eq!(provider.load().unwrap().access_key_id(), "AKIDTWO");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
