//! ListObjects and ListObjectsV2 over a bucket's sorted keys: prefix, delimiter, a page size and
//! a cursor to resume after.
//!
//! With a delimiter, keys that share the part of their name up to the first delimiter after
//! the prefix roll up into one common prefix, which counts as one entry of the page. Entries
//! come in key order and their names (a key, or a common prefix) only increase, so a page is
//! resumed from the last name it returned: every entry whose name sorts after it.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::store::Stored;

/// S3's largest page, and its default.
pub const MAX_KEYS: usize = 1000;

#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// List only entries whose name sorts after this.
    pub after: Option<&'a str>,
    pub max_keys: usize,
}

#[derive(Debug, Default)]
pub struct Page {
    pub objects: Vec<Stored>,
    pub common_prefixes: Vec<String>,
    /// More entries follow.
    pub truncated: bool,
    /// The name of the last entry returned, to resume from when truncated.
    pub last: Option<String>,
}

pub fn list(objects: &BTreeMap<String, Stored>, query: Query<'_>) -> Page {
    let mut page = Page::default();
    if query.max_keys == 0 {
        return page;
    }
    let mut from = match query.after {
        Some(after) if after >= query.prefix => Bound::Excluded(after.to_owned()),
        _ => Bound::Included(query.prefix.to_owned()),
    };
    let mut count = 0;
    'pages: loop {
        let range = objects.range::<String, _>((from.as_ref(), Bound::Unbounded));
        for (key, stored) in range {
            let Some(rest) = key.strip_prefix(query.prefix) else {
                break 'pages;
            };
            let rolled_up = query
                .delimiter
                .filter(|d| !d.is_empty())
                .and_then(|delimiter| {
                    rest.find(delimiter)
                        .map(|at| &key[..query.prefix.len() + at + delimiter.len()])
                });
            let name = rolled_up.unwrap_or(key);
            if query.after.is_some_and(|after| name <= after) {
                continue;
            }
            if count == query.max_keys {
                page.truncated = true;
                break 'pages;
            }
            count += 1;
            page.last = Some(name.to_owned());
            match rolled_up {
                None => page.objects.push(stored.clone()),
                Some(common) => {
                    page.common_prefixes.push(common.to_owned());
                    // Every key under this prefix rolls up into it: go on past them all.
                    from = Bound::Excluded(format!("{common}{}", char::MAX));
                    continue 'pages;
                }
            }
        }
        break;
    }
    page
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::object_file::{Headers, ObjectMeta};

    fn bucket(keys: &[&str]) -> BTreeMap<String, Stored> {
        keys.iter()
            .map(|key| {
                let meta = ObjectMeta {
                    key: (*key).to_owned(),
                    size: 1,
                    etag: String::new(),
                    modified_ms: 0,
                    headers: Headers::default(),
                    metadata: BTreeMap::new(),
                };
                let stored = Stored {
                    meta: Arc::new(meta),
                    inode: 0,
                };
                ((*key).to_owned(), stored)
            })
            .collect()
    }

    fn names(page: &Page) -> (Vec<&str>, Vec<&str>) {
        let keys = page.objects.iter().map(|s| s.meta.key.as_str()).collect();
        let prefixes = page.common_prefixes.iter().map(String::as_str).collect();
        (keys, prefixes)
    }

    const KEYS: &[&str] = &[
        "a.txt",
        "logs/2024/01.log",
        "logs/2024/02.log",
        "logs/2025/01.log",
        "logs/readme",
        "photos/cat.jpg",
        "zebra",
    ];

    fn query(
        prefix: &'static str,
        delimiter: Option<&'static str>,
        max_keys: usize,
    ) -> Query<'static> {
        Query {
            prefix,
            delimiter,
            after: None,
            max_keys,
        }
    }

    #[test]
    fn a_delimiter_rolls_keys_up_into_common_prefixes() {
        let objects = bucket(KEYS);
        let page = list(&objects, query("", Some("/"), 1000));
        assert_eq!(
            names(&page),
            (vec!["a.txt", "zebra"], vec!["logs/", "photos/"])
        );
        assert!(!page.truncated);

        let page = list(&objects, query("logs/", Some("/"), 1000));
        assert_eq!(
            names(&page),
            (vec!["logs/readme"], vec!["logs/2024/", "logs/2025/"])
        );

        let page = list(&objects, query("logs/20", None, 1000));
        assert_eq!(page.objects.len(), 3);
        assert!(page.common_prefixes.is_empty());
    }

    #[test]
    fn pages_resume_after_their_last_entry_prefixes_included() {
        let objects = bucket(KEYS);
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut q = query("", Some("/"), 1);
            q.after = after.as_deref();
            let page = list(&objects, q);
            let (keys, prefixes) = names(&page);
            seen.extend(keys.into_iter().chain(prefixes).map(str::to_owned));
            if !page.truncated {
                break;
            }
            after = page.last;
        }
        assert_eq!(seen, ["a.txt", "logs/", "photos/", "zebra"]);
    }

    #[test]
    fn start_after_and_empty_pages() {
        let objects = bucket(KEYS);
        let mut q = query("logs/", None, 2);
        q.after = Some("logs/2024/01.log");
        let page = list(&objects, q);
        assert_eq!(names(&page).0, ["logs/2024/02.log", "logs/2025/01.log"]);
        assert!(page.truncated);
        assert_eq!(page.last.as_deref(), Some("logs/2025/01.log"));

        // A cursor before the prefix starts at the prefix.
        let mut q = query("photos/", None, 10);
        q.after = Some("a");
        assert_eq!(names(&list(&objects, q)).0, ["photos/cat.jpg"]);

        let page = list(&objects, query("", None, 0));
        assert!(page.objects.is_empty() && !page.truncated);
        assert!(
            list(&objects, query("nothing/", Some("/"), 10))
                .objects
                .is_empty()
        );
    }
}
