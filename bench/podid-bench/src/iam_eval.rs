//! Policy evaluations a second for a realistic role: AmazonS3ReadOnlyAccess plus an inline
//! policy conditioned on the session's tags, over a mix of allowed and denied requests.

use std::time::Instant;

use podid_iam::{Context, Decision, Policies, Principal, Request, evaluate, parse};

use crate::args::Flags;

const S3_READ_ONLY: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Action": ["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*",
    "s3-object-lambda:List*"], "Resource": "*"}]}"#;

const TEAM_PREFIX: &str = r#"{"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
     "Resource": "arn:aws:s3:::shared/${aws:PrincipalTag/kubernetes-namespace}/*",
     "Condition": {"StringEquals": {"aws:PrincipalTag/eks-cluster-name": "eksdemo1"}}},
    {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*",
     "Condition": {"StringNotEquals": {"aws:PrincipalTag/kubernetes-namespace": "ops"}}}]}"#;

pub fn run(flags: Flags) -> Result<(), String> {
    let flags = flags.only(&["seconds"])?;
    let seconds: f64 = flags.optional("seconds", 5.0)?;
    let read_only = parse(S3_READ_ONLY).map_err(|e| e.to_string())?;
    let team = parse(TEAM_PREFIX).map_err(|e| e.to_string())?;
    let identity = [&read_only, &team];
    let policies = Policies {
        identity: &identity,
        ..Policies::default()
    };

    let principal = Principal {
        arn: "arn:aws:sts::111122223333:assumed-role/app/eks-eksdemo1-web-1".into(),
        account: "111122223333".into(),
        role_arn: Some("arn:aws:iam::111122223333:role/app".into()),
        service: None,
    };
    let mut context = Context::default();
    context.set("aws:PrincipalTag/kubernetes-namespace", ["team-a"]);
    context.set("aws:PrincipalTag/eks-cluster-name", ["eksdemo1"]);
    let requests = [
        ("s3:ListAllMyBuckets", "*", Decision::Allow),
        (
            "s3:GetObject",
            "arn:aws:s3:::shared/team-a/report.csv",
            Decision::Allow,
        ),
        (
            "s3:PutObject",
            "arn:aws:s3:::shared/team-a/report.csv",
            Decision::Allow,
        ),
        (
            "s3:PutObject",
            "arn:aws:s3:::shared/team-b/report.csv",
            Decision::ImplicitDeny,
        ),
        (
            "s3:DeleteObject",
            "arn:aws:s3:::shared/team-a/report.csv",
            Decision::ExplicitDeny,
        ),
    ];

    let started = Instant::now();
    let mut evaluations = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        for (action, resource, expected) in requests {
            let request = Request {
                principal: &principal,
                action,
                resource,
                context: &context,
            };
            let decision = evaluate(&request, &policies);
            if decision != expected {
                return Err(format!(
                    "{action} on {resource}: {decision:?}, not {expected:?}"
                ));
            }
            evaluations += 1;
        }
    }
    let rate = evaluations as f64 / started.elapsed().as_secs_f64();
    println!("evaluations={evaluations} evaluations_per_second={rate:.0}");
    Ok(())
}
