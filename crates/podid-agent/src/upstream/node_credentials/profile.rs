//! The shared AWS files: `~/.aws/credentials` and `~/.aws/config`, or the files that
//! `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` name.
//!
//! The agent reads static keys from a profile (`AWS_PROFILE`, else `default`) and the region
//! from the config file. With `--rotate-credentials` it reads the `default` profile of the
//! credentials file again every minute instead: nodes outside EC2, such as EKS hybrid nodes,
//! have no instance metadata service, and a local service (SSM, IAM Roles Anywhere) rewrites
//! that file with short-lived keys before they expire.
//!
//! Problems are described without quoting values from the files, since the values are secrets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use podid_core::Secret;

use super::NodeCredentials;
use crate::upstream::environment::setting;

/// How long one reading of the file is used before the file is read again.
pub const ROTATION_INTERVAL: Duration = Duration::from_secs(60);

/// Profile settings that obtain credentials in ways the agent does not implement. A profile
/// using one of them is refused at start, rather than skipped, so that the agent never signs
/// with credentials other than the ones its operator configured.
const UNSUPPORTED_SETTINGS: [&str; 5] = [
    "role_arn",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
];

/// The keys of one section of an INI file, names lower-cased, in file order.
type Section = Vec<(String, String)>;

pub fn credentials_file() -> Option<PathBuf> {
    shared_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

pub fn config_file() -> Option<PathBuf> {
    shared_file("AWS_CONFIG_FILE", "config")
}

fn shared_file(variable: &str, name: &str) -> Option<PathBuf> {
    if let Some(file) = std::env::var_os(variable) {
        return Some(PathBuf::from(file));
    }
    let home = std::env::var_os("HOME")?;
    Some(Path::new(&home).join(".aws").join(name))
}

/// The profile the agent reads: `AWS_PROFILE`, else `default`; and whether it was chosen.
fn chosen_profile() -> (String, bool) {
    match setting("AWS_PROFILE") {
        Some(name) => (name, true),
        None => ("default".to_owned(), false),
    }
}

/// Static keys from the chosen profile, if it has any. `Ok(None)` means the files say nothing
/// about credentials, so the next source is tried.
pub fn static_keys() -> Result<Option<(NodeCredentials, String)>, String> {
    let (profile, chosen) = chosen_profile();
    let mut sections = Vec::new();
    if let Some(file) = credentials_file() {
        let section = read_section(&file, &|name| name == profile)?;
        sections.extend(section.map(|section| (file, section)));
    }
    if let Some(file) = config_file() {
        let section = read_section(&file, &|name| config_section_is(name, &profile))?;
        sections.extend(section.map(|section| (file, section)));
    }
    for (file, section) in &sections {
        if value(section, "aws_access_key_id").is_some() {
            let credentials = keys_of(section, &profile)
                .map_err(|problem| format!("{}: {problem}", file.display()))?;
            let origin = format!("the [{profile}] profile of {}", file.display());
            return Ok(Some((credentials, origin)));
        }
        if let Some(unsupported) = UNSUPPORTED_SETTINGS
            .iter()
            .find(|name| value(section, name).is_some())
        {
            return Err(format!(
                "{}: the [{profile}] profile obtains credentials with {unsupported}, which the \
                 podid agent does not support; give the node static keys, instance metadata \
                 or container credentials",
                file.display()
            ));
        }
    }
    if chosen && sections.is_empty() {
        return Err(format!(
            "AWS_PROFILE names the profile {profile:?}, which neither shared file has"
        ));
    }
    Ok(None)
}

/// The chosen profile's `region` in the config file, if set.
pub fn region() -> Result<Option<String>, String> {
    let (profile, _) = chosen_profile();
    let Some(file) = config_file() else {
        return Ok(None);
    };
    let section = read_section(&file, &|name| config_section_is(name, &profile))?;
    Ok(section.and_then(|section| value(&section, "region").map(str::to_owned)))
}

/// The config file names profiles `[profile name]`, except the default, which may be either.
fn config_section_is(header: &str, profile: &str) -> bool {
    match header.strip_prefix("profile ") {
        Some(name) => name.trim() == profile,
        None => header == "default" && profile == "default",
    }
}

/// The section of `file` that `wanted` picks; a file that does not exist has none.
fn read_section(file: &Path, wanted: &dyn Fn(&str) -> bool) -> Result<Option<Section>, String> {
    match std::fs::read_to_string(file) {
        Ok(text) => {
            section(&text, wanted).map_err(|problem| format!("{}: {problem}", file.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("cannot read {}: {error}", file.display())),
    }
}

/// The keys of the sections whose header `wanted` accepts, from INI text: `key = value` lines
/// under `[name]` headers, `#` and `;` starting comment lines.
fn section(text: &str, wanted: &dyn Fn(&str) -> bool) -> Result<Option<Section>, String> {
    let mut found: Option<Section> = None;
    let mut in_wanted = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = header
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: a section header without ']'", index + 1))?;
            in_wanted = wanted(name.trim());
            if in_wanted {
                found.get_or_insert_with(Vec::new);
            }
            continue;
        }
        let Some(keys) = found.as_mut().filter(|_| in_wanted) else {
            continue;
        };
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected `key = value`", index + 1))?;
        keys.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(found)
}

/// A key's last non-empty value in a section.
fn value<'s>(section: &'s Section, key: &str) -> Option<&'s str> {
    section
        .iter()
        .rev()
        .find(|(name, value)| name == key && !value.is_empty())
        .map(|(_, value)| value.as_str())
}

fn keys_of(section: &Section, profile: &str) -> Result<NodeCredentials, String> {
    let missing = |key: &str| format!("the [{profile}] profile has no {key}");
    let access_key_id =
        value(section, "aws_access_key_id").ok_or_else(|| missing("aws_access_key_id"))?;
    let secret =
        value(section, "aws_secret_access_key").ok_or_else(|| missing("aws_secret_access_key"))?;
    Ok(NodeCredentials {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: Secret::new(secret),
        session_token: value(section, "aws_session_token").map(Secret::new),
        expires_at: None,
    })
}

/// The `default` profile of a shared credentials file, read afresh at every [`load`].
///
/// [`load`]: RotatingSharedCredentials::load
#[derive(Debug, Clone)]
pub struct RotatingSharedCredentials {
    file: PathBuf,
    interval: Duration,
}

impl RotatingSharedCredentials {
    /// The profile whose keys are used, as the AWS agent does: `AWS_PROFILE` is not consulted,
    /// because the file is written for the node, not for a person choosing among profiles.
    const PROFILE: &str = "default";

    pub fn new(file: impl Into<PathBuf>, interval: Duration) -> Self {
        Self {
            file: file.into(),
            interval,
        }
    }

    /// Where the file is: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    pub fn default_file() -> Result<PathBuf, String> {
        credentials_file().ok_or_else(|| {
            "--rotate-credentials needs the shared credentials file: set \
             AWS_SHARED_CREDENTIALS_FILE, or HOME for ~/.aws/credentials"
                .to_owned()
        })
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// How long a reading is used before the file is read again.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Reads the file now.
    pub fn load(&self) -> Result<NodeCredentials, String> {
        // A small local file read once a minute: blocking the worker for it is cheaper than
        // handing it to another thread.
        let text = std::fs::read_to_string(&self.file)
            .map_err(|error| format!("cannot read {}: {error}", self.file.display()))?;
        let keys = section(&text, &|name| name == Self::PROFILE)
            .and_then(|found| found.ok_or_else(|| format!("no [{}] profile", Self::PROFILE)))
            .and_then(|found| keys_of(&found, Self::PROFILE))
            .map_err(|problem| format!("{}: {problem}", self.file.display()))?;
        Ok(keys)
    }
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

    fn keys(text: &str, profile: &str) -> Result<NodeCredentials, String> {
        let found = section(text, &|name| name == profile)?
            .ok_or_else(|| format!("no [{profile}] profile"))?;
        keys_of(&found, profile)
    }

    #[test]
    fn reads_the_named_profile_only() {
        let node = keys(FILE, "default").unwrap();
        assert_eq!(node.access_key_id, "ASIANODE");
        assert_eq!(node.secret_access_key.expose(), "node-secret");
        assert_eq!(node.session_token.unwrap().expose(), "node-session");
        assert_eq!(keys(FILE, "other").unwrap().access_key_id, "AKIDOTHER");
    }

    #[test]
    fn long_lived_keys_have_no_session_token() {
        let text = "[default]\naws_access_key_id=AKID\naws_secret_access_key=s\n";
        assert!(keys(text, "default").unwrap().session_token.is_none());
    }

    #[test]
    fn config_files_prefix_profiles_but_not_the_default() {
        assert!(config_section_is("profile node", "node"));
        assert!(config_section_is("profile  node", "node"));
        assert!(config_section_is("default", "default"));
        assert!(!config_section_is("node", "node"));
        assert!(!config_section_is("default", "node"));
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
            let problem = keys(text, "default").unwrap_err();
            assert_eq!(problem, expected, "{text:?}");
            assert!(!problem.contains("hidden-secret"));
        }
    }

    #[test]
    fn each_load_reads_the_file_again() {
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
        assert_eq!(provider.load().unwrap().access_key_id, "AKIDONE");
        std::fs::write(
            &file,
            "[default]\naws_access_key_id=AKIDTWO\naws_secret_access_key=s2\n",
        )
        .unwrap();
        assert_eq!(provider.load().unwrap().access_key_id, "AKIDTWO");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
