//! Reading Kubernetes manifests as `kubectl apply -f` does: a file or a directory of them
//! (`.yaml`, `.yml`, `.json`, in name order, not recursing), several YAML documents per file,
//! and `kind: List` wrapping items.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// One object from a manifest, and where it came from for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub source: String,
    pub object: Value,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the path \"{0}\" does not exist")]
    Missing(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("error parsing {source_name}: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("error validating {source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error("no objects passed to apply: {0} holds no manifest")]
    Empty(PathBuf),
}

/// Every object of the manifests at `path`.
pub fn read(path: &Path) -> Result<Vec<Manifest>, ManifestError> {
    let metadata = fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ManifestError::Missing(path.to_owned()),
        _ => ManifestError::Read {
            path: path.to_owned(),
            source,
        },
    })?;
    let files = if metadata.is_dir() {
        manifest_files(path)?
    } else {
        vec![path.to_owned()]
    };
    let mut manifests = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).map_err(|source| ManifestError::Read {
            path: file.clone(),
            source,
        })?;
        manifests.extend(parse(&text, &file.display().to_string())?);
    }
    if manifests.is_empty() {
        return Err(ManifestError::Empty(path.to_owned()));
    }
    Ok(manifests)
}

fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let read_error = |source| ManifestError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let is_manifest = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["yaml", "yml", "json"].contains(&e));
        if is_manifest && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The objects of one file's text: YAML documents (JSON is YAML too), lists unwrapped.
pub fn parse(text: &str, source: &str) -> Result<Vec<Manifest>, ManifestError> {
    let mut manifests = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let source_name = if index == 0 {
            source.to_owned()
        } else {
            format!("{source} (document {})", index + 1)
        };
        let value = Value::deserialize(document).map_err(|e| ManifestError::Parse {
            source_name: source_name.clone(),
            message: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        if value["kind"] == "List" {
            let Some(items) = value["items"].as_array() else {
                return Err(invalid(&source_name, "a List needs an items array"));
            };
            for item in items {
                manifests.push(checked(item.clone(), &source_name)?);
            }
        } else {
            manifests.push(checked(value, &source_name)?);
        }
    }
    Ok(manifests)
}

fn checked(object: Value, source_name: &str) -> Result<Manifest, ManifestError> {
    if !object.is_object() {
        return Err(invalid(source_name, "a manifest is a mapping of fields"));
    }
    for (field, present) in [
        ("apiVersion", object["apiVersion"].is_string()),
        ("kind", object["kind"].is_string()),
        ("metadata.name", object["metadata"]["name"].is_string()),
    ] {
        if !present {
            return Err(invalid(source_name, &format!("{field} is not set")));
        }
    }
    Ok(Manifest {
        source: source_name.to_owned(),
        object,
    })
}

fn invalid(source_name: &str, message: &str) -> ManifestError {
    ManifestError::Invalid {
        source_name: source_name.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TUTORIAL_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: aws-cli
  namespace: default
spec:
  serviceAccountName: aws-cli-sa
  containers:
  - name: aws-cli
    image: amazon/aws-cli
    command: [\"sleep\", \"infinity\"]
";

    #[test]
    fn reads_multi_document_files_and_lists() {
        let text = format!(
            "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: aws-cli-sa\n---\n\
             {TUTORIAL_POD}---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  \
             kind: Namespace\n  metadata:\n    name: team-a\n"
        );
        let manifests = parse(&text, "all.yaml").unwrap();
        let kinds: Vec<_> = manifests.iter().map(|m| (m.kind(), m.name())).collect();
        assert_eq!(
            kinds,
            [
                ("ServiceAccount", "aws-cli-sa"),
                ("Pod", "aws-cli"),
                ("Namespace", "team-a")
            ]
        );
        assert_eq!(
            manifests[1].object["spec"]["containers"][0]["command"][1],
            "infinity"
        );
    }

    #[test]
    fn reads_a_directory_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("02_pod.yaml"), TUTORIAL_POD).unwrap();
        fs::write(
            dir.path().join("01_sa.yml"),
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: aws-cli-sa\n",
        )
        .unwrap();
        fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
        let manifests = read(dir.path()).unwrap();
        assert_eq!(manifests.len(), 2);
        assert_eq!(manifests[0].kind(), "ServiceAccount");
        assert!(manifests[1].source.ends_with("02_pod.yaml"));
    }

    #[test]
    fn says_what_is_wrong_and_where() {
        let error = parse("kind: Pod\nmetadata:\n  name: x\n", "pod.yaml").unwrap_err();
        assert_eq!(
            error.to_string(),
            "error validating pod.yaml: apiVersion is not set"
        );
        let error = parse("a: [unclosed\n", "bad.yaml").unwrap_err();
        assert!(
            error.to_string().starts_with("error parsing bad.yaml: "),
            "{error}"
        );
        let error = parse("---\nkind: List\n", "list.yaml").unwrap_err();
        assert!(error.to_string().contains("a List needs an items array"));
        let error = read(Path::new("/nonexistent/kube-manifests")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the path \"/nonexistent/kube-manifests\" does not exist"
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(read(empty.path()), Err(ManifestError::Empty(_))));
    }
}
