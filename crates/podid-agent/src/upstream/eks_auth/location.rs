//! Where EKS Auth is: the node's region, and the endpoint that serves it.

use crate::upstream::environment::{configured_endpoint, setting};
use crate::upstream::node_credentials::{InstanceMetadata, profile_region};

/// The node's region, looked up as the AWS SDKs do: `AWS_REGION`, `AWS_DEFAULT_REGION`, the
/// profile's `region` in the shared config file, then instance metadata.
pub async fn region(instance_metadata: Option<&InstanceMetadata>) -> Result<String, String> {
    for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(region) = setting(variable) {
            return checked(region, variable);
        }
    }
    if let Some(region) = profile_region()? {
        return checked(region, "the shared config file's region");
    }
    let Some(imds) = instance_metadata else {
        return Err(
            "no AWS region is configured for EKS Auth: set AWS_REGION, or run on an \
                    EC2 node whose instance metadata service tells it"
                .into(),
        );
    };
    let region = imds.region().await.map_err(|problem| {
        format!("no AWS region is configured and instance metadata did not tell it: {problem}")
    })?;
    checked(region, "instance metadata's region")
}

/// A region goes into host names and signatures: letters, digits and dashes only.
fn checked(region: String, origin: &str) -> Result<String, String> {
    let valid = !region.is_empty()
        && region.len() <= 64
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(region)
    } else {
        Err(format!("{origin} is not a valid AWS region name"))
    }
}

/// The endpoint's base URL: `--endpoint`, `AWS_ENDPOINT_URL_EKS_AUTH`, `AWS_ENDPOINT_URL`, else
/// the region's public endpoint.
pub fn endpoint(flag: Option<&str>, region: Option<&str>) -> Result<String, String> {
    if let Some(flag) = flag {
        return Ok(flag.trim_end_matches('/').to_owned());
    }
    if let Some(url) = configured_endpoint("AWS_ENDPOINT_URL_EKS_AUTH") {
        return Ok(url);
    }
    let region = region.ok_or("EKS Auth's endpoint depends on the region, and none is known")?;
    Ok(regional_endpoint(region))
}

fn regional_endpoint(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "api.amazonwebservices.com.cn"
    } else {
        "api.aws"
    };
    format!("https://eks-auth.{region}.{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_endpoints_follow_the_partition() {
        assert_eq!(
            regional_endpoint("us-west-2"),
            "https://eks-auth.us-west-2.api.aws"
        );
        assert_eq!(
            regional_endpoint("us-gov-east-1"),
            "https://eks-auth.us-gov-east-1.api.aws"
        );
        assert_eq!(
            regional_endpoint("cn-north-1"),
            "https://eks-auth.cn-north-1.api.amazonwebservices.com.cn"
        );
    }

    #[test]
    fn the_flag_wins_and_loses_its_trailing_slash() {
        assert_eq!(
            endpoint(Some("https://podid.example:8443/"), Some("us-west-2")).unwrap(),
            "https://podid.example:8443"
        );
    }

    #[test]
    fn regions_are_plain_names() {
        assert!(checked("eu-central-1".into(), "AWS_REGION").is_ok());
        let error = checked("us-west-2/evil".into(), "AWS_REGION").unwrap_err();
        assert_eq!(error, "AWS_REGION is not a valid AWS region name");
    }
}
