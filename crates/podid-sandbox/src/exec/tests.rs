use serde_json::json;

use super::*;

fn running(mode: Mode) -> Running {
    Running {
        pid: 1,
        mode,
        cluster: "eksdemo1".into(),
        region: "us-east-1".into(),
        api: "http://127.0.0.1:7772".into(),
        aws_endpoint: "http://127.0.0.1:7770".into(),
        pod_aws_endpoint: match mode {
            Mode::Loopback => "http://127.0.0.1:7770".into(),
            Mode::Netns => "http://10.250.0.1:7770".into(),
        },
        pod_credentials_uri: match mode {
            Mode::Loopback => "http://127.0.0.1:7773/v1/credentials".into(),
            Mode::Netns => "http://169.254.170.23/v1/credentials".into(),
        },
        pod_imds_endpoint: (mode == Mode::Loopback).then(|| "http://127.0.0.1:7774/".into()),
        netns: (mode == Mode::Netns).then(|| "podid-eksdemo1".into()),
    }
}

/// The tutorial's pod as the webhook leaves it.
fn mutated_pod() -> Value {
    json!({
        "metadata": {"name": "aws-cli", "namespace": "default", "uid": "u-1"},
        "spec": {
            "serviceAccountName": "aws-cli-sa",
            "containers": [{
                "name": "aws-cli",
                "env": [
                    {"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                     "value": "http://169.254.170.23/v1/credentials"},
                    {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                     "value": podid_core::pod_mutation::TOKEN_FILE},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "volumeMounts": [{"name": "eks-pod-identity-token", "readOnly": true,
                    "mountPath": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"}],
            }],
            "volumes": [{"name": "eks-pod-identity-token", "projected": {"sources": [
                {"serviceAccountToken": {"audience": "pods.eks.amazonaws.com",
                                         "expirationSeconds": 86400,
                                         "path": "eks-pod-identity-token"}}]}}],
        },
    })
}

fn value<'p>(plan: &'p ExecPlan, key: &str) -> Option<&'p str> {
    plan.env
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn host(var: &str) -> Option<String> {
    match var {
        "PATH" => Some("/usr/bin:/bin".into()),
        "AWS_ACCESS_KEY_ID" | "AWS_PROFILE" => Some("host-secret".into()),
        _ => None,
    }
}

#[test]
fn loopback_pods_reach_the_node_on_loopback_ports() {
    let data = DataDir::new("/sandbox");
    let command = ["aws".to_owned(), "s3".into(), "ls".into()];
    let plan = plan(
        &mutated_pod(),
        None,
        &running(Mode::Loopback),
        &data,
        &command,
        &host,
    )
    .unwrap();
    assert_eq!(plan.program, "aws");
    assert_eq!(plan.args, ["s3", "ls"]);
    assert_eq!(
        value(&plan, "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        Some("http://127.0.0.1:7773/v1/credentials")
    );
    assert_eq!(
        value(&plan, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        Some("/sandbox/pods/default/aws-cli/volumes/eks-pod-identity-token/eks-pod-identity-token")
    );
    assert_eq!(
        value(&plan, "AWS_EC2_METADATA_SERVICE_ENDPOINT"),
        Some("http://127.0.0.1:7774/")
    );
    assert_eq!(
        value(&plan, "AWS_ENDPOINT_URL"),
        Some("http://127.0.0.1:7770")
    );
    assert_eq!(
        value(&plan, "HOME"),
        Some("/sandbox/pods/default/aws-cli/home")
    );
    assert_eq!(value(&plan, "POD_NAME"), Some("aws-cli"));
    assert_eq!(value(&plan, "AWS_DEFAULT_REGION"), Some("us-east-1"));
    assert_eq!(value(&plan, "PATH"), Some("/usr/bin:/bin"));
    assert_eq!(
        value(&plan, "AWS_ACCESS_KEY_ID"),
        None,
        "the host's keys stay out"
    );
    assert_eq!(value(&plan, "AWS_PROFILE"), None);
    assert_eq!(plan.netns, None);
}

#[test]
fn netns_pods_keep_the_production_addresses() {
    let data = DataDir::new("/sandbox");
    let command = ["aws".to_owned()];
    let plan = plan(
        &mutated_pod(),
        None,
        &running(Mode::Netns),
        &data,
        &command,
        &host,
    )
    .unwrap();
    assert_eq!(
        value(&plan, "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        Some("http://169.254.170.23/v1/credentials")
    );
    assert_eq!(value(&plan, "AWS_EC2_METADATA_SERVICE_ENDPOINT"), None);
    assert_eq!(
        value(&plan, "AWS_ENDPOINT_URL"),
        Some("http://10.250.0.1:7770")
    );
    assert_eq!(plan.netns.as_deref(), Some("podid-eksdemo1"));
}

#[test]
fn a_pod_without_identity_gets_only_the_node() {
    let data = DataDir::new("/sandbox");
    let pod = json!({"metadata": {"name": "plain", "namespace": "default"},
                     "spec": {"containers": [{"name": "c"}]}});
    let command = ["aws".to_owned()];
    let plan = plan(&pod, None, &running(Mode::Loopback), &data, &command, &host).unwrap();
    assert_eq!(value(&plan, "AWS_CONTAINER_CREDENTIALS_FULL_URI"), None);
    assert_eq!(
        value(&plan, "AWS_EC2_METADATA_SERVICE_ENDPOINT"),
        Some("http://127.0.0.1:7774/")
    );
}

#[test]
fn bad_requests_say_what_to_do() {
    let data = DataDir::new("/sandbox");
    let command = ["aws".to_owned()];
    let error = plan(
        &mutated_pod(),
        Some("sidecar"),
        &running(Mode::Loopback),
        &data,
        &command,
        &host,
    )
    .unwrap_err();
    assert_eq!(error, "container sidecar is not valid for pod aws-cli");
    let error = plan(
        &mutated_pod(),
        None,
        &running(Mode::Loopback),
        &data,
        &[],
        &host,
    )
    .unwrap_err();
    assert_eq!(
        error,
        "you must specify at least one command for the container"
    );
}

#[test]
fn exit_statuses_come_back_as_a_shell_reports_them() {
    let plan = ExecPlan {
        program: "sh".into(),
        args: vec!["-c".into(), "exit 254".into()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        netns: None,
    };
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(&plan, &dir.path().join("home")).unwrap(), 254);
    let missing = ExecPlan {
        program: "no-such-program".into(),
        ..plan
    };
    let error = run(&missing, dir.path()).unwrap_err();
    assert_eq!(
        error,
        "exec: \"no-such-program\": executable file not found in $PATH"
    );
}
