//! The few facts podid reads out of ARNs.

/// The account id of an ARN such as `arn:aws:sts::111122223333:assumed-role/Role/session`,
/// or `None` when the string is not an ARN with a 12-digit account field.
pub fn account_id(arn: &str) -> Option<&str> {
    let mut fields = arn.splitn(6, ':');
    if fields.next()? != "arn" {
        return None;
    }
    let account = fields.nth(3)?;
    fields.next()?;
    let is_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    is_account.then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_account_of_an_assumed_role() {
        let arn = "arn:aws:sts::111122223333:assumed-role/S3ReadOnly/eks-demo-pod-1234";
        assert_eq!(account_id(arn), Some("111122223333"));
    }

    #[test]
    fn rejects_what_is_not_an_arn() {
        assert_eq!(account_id("arn:aws:sts::1234:assumed-role/x/y"), None);
        assert_eq!(account_id("urn:aws:sts::111122223333:assumed-role/x"), None);
        assert_eq!(account_id("arn:aws:sts::111122223333"), None);
        assert_eq!(account_id(""), None);
    }
}
