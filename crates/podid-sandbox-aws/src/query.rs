//! Requests of the AWS query protocol (IAM, STS): form-encoded parameters, with lists written
//! as `Tags.member.1.Key`, `Tags.member.1.Value`, ...

use podid_core::percent::query_pairs;

use crate::error::AwsError;

/// The parameters of one query-protocol request.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// From the form body of a POST, and the URL's query (which the protocol also allows).
    pub fn parse(body: &[u8], query: Option<&str>) -> Result<Self, AwsError> {
        let body = std::str::from_utf8(body)
            .map_err(|_| AwsError::new(400, "MalformedQueryString", "the body is not UTF-8"))?;
        let mut pairs = query_pairs(query.unwrap_or_default());
        pairs.extend(query_pairs(body));
        Ok(Self { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A parameter the action needs; AWS's validation message when it is absent.
    pub fn required(&self, name: &str) -> Result<&str, AwsError> {
        self.get(name).ok_or_else(|| {
            AwsError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
                 Member must not be null",
                lower_first(name)
            ))
        })
    }

    pub fn action(&self) -> Result<&str, AwsError> {
        self.get("Action").ok_or_else(|| {
            AwsError::new(
                400,
                "MissingAction",
                "the request names no Action parameter",
            )
        })
    }

    /// A whole number parameter within `min..=max`.
    pub fn number(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, AwsError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        let value: i64 = text.parse().map_err(|_| {
            AwsError::validation(format!("{name} must be a whole number, not {text:?}"))
        })?;
        if !(min..=max).contains(&value) {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{value}' at '{}' failed to satisfy \
                 constraint: Member must have value between {min} and {max}",
                lower_first(name)
            )));
        }
        Ok(Some(value))
    }

    pub fn flag(&self, name: &str) -> Result<Option<bool>, AwsError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(AwsError::validation(format!(
                "{name} must be true or false, not {other:?}"
            ))),
        }
    }

    /// The members of a list such as `PolicyArns.member.N.arn` (`field` = `Some("arn")`) or
    /// `TransitiveTagKeys.member.N` (`field` = `None`), in index order.
    pub fn list(&self, name: &str, field: Option<&str>) -> Vec<&str> {
        let prefix = format!("{name}.member.");
        let mut members: Vec<(u32, &str)> = self
            .pairs
            .iter()
            .filter_map(|(key, value)| {
                let rest = key.strip_prefix(&prefix)?;
                let (index, rest_field) = match rest.split_once('.') {
                    Some((index, field)) => (index, Some(field)),
                    None => (rest, None),
                };
                (rest_field == field).then_some(())?;
                Some((index.parse().ok()?, value.as_str()))
            })
            .collect();
        members.sort_by_key(|(index, _)| *index);
        members.into_iter().map(|(_, value)| value).collect()
    }

    /// `Tags.member.N.Key` and `.Value` pairs, in index order. A tag without a key is an
    /// error; one without a value has the empty value, as IAM allows.
    pub fn tags(&self, name: &str) -> Result<Vec<(String, String)>, AwsError> {
        let prefix = format!("{name}.member.");
        let mut tags: Vec<(u32, Option<String>, Option<String>)> = Vec::new();
        for (key, value) in &self.pairs {
            let Some(rest) = key.strip_prefix(&prefix) else {
                continue;
            };
            let Some((index, field)) = rest.split_once('.') else {
                continue;
            };
            let Ok(index) = index.parse::<u32>() else {
                continue;
            };
            let slot = match tags.iter_mut().find(|(i, _, _)| *i == index) {
                Some(slot) => slot,
                None => {
                    tags.push((index, None, None));
                    tags.last_mut()
                        .ok_or_else(|| AwsError::internal("tag list"))?
                }
            };
            match field {
                "Key" => slot.1 = Some(value.clone()),
                "Value" => slot.2 = Some(value.clone()),
                _ => {}
            }
        }
        tags.sort_by_key(|(index, _, _)| *index);
        tags.into_iter()
            .map(|(index, key, value)| {
                let key = key.ok_or_else(|| {
                    AwsError::validation(format!("{name}.member.{index} has no Key"))
                })?;
                Ok((key, value.unwrap_or_default()))
            })
            .collect()
    }
}

/// `RoleName` → `roleName`, as AWS names members in validation messages.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_list_and_tag_parameters() {
        let body = b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr\
            &Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=1\
            &TransitiveTagKeys.member.1=a&PolicyArns.member.1.arn=x+y";
        let params = Params::parse(body, Some("Version=2011-06-15")).unwrap();
        assert_eq!(params.action().unwrap(), "AssumeRole");
        assert_eq!(params.get("Version"), Some("2011-06-15"));
        assert_eq!(params.required("RoleArn").unwrap(), "arn:aws:iam::1:role/r");
        assert_eq!(
            params.tags("Tags").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(params.list("TransitiveTagKeys", None), vec!["a"]);
        assert_eq!(params.list("PolicyArns", Some("arn")), vec!["x y"]);
    }

    #[test]
    fn says_what_is_missing_or_out_of_range() {
        let params = Params::parse(b"DurationSeconds=12&Flag=maybe", None).unwrap();
        assert_eq!(
            params.required("RoleSessionName").unwrap_err().message,
            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy \
             constraint: Member must not be null"
        );
        let error = params.number("DurationSeconds", 900, 43200).unwrap_err();
        assert!(
            error
                .message
                .contains("Member must have value between 900 and 43200")
        );
        assert_eq!(params.flag("Flag").unwrap_err().code, "ValidationError");
        assert_eq!(params.action().unwrap_err().code, "MissingAction");
        let untagged = Params::parse(b"Tags.member.1.Value=v", None).unwrap();
        assert_eq!(untagged.tags("Tags").unwrap_err().code, "ValidationError");
    }
}
