"""The tutorial end to end in the sandbox, with its own manifests and names and the real AWS CLI,
in loopback mode and in netns mode; and the `always` injection mode."""

import json
import os
import shutil

import pytest

from sandbox import service_error_status, TUTORIAL_TRUST, Sandbox

SERVICE_ACCOUNT = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: aws-cli-sa
  namespace: default
"""
POD = """apiVersion: v1
kind: Pod
metadata:
  name: aws-cli
  namespace: default
spec:
  serviceAccountName: aws-cli-sa
  containers:
  - name: aws-cli
    image: amazon/aws-cli
    command: ["sleep", "infinity"]
"""
ROLE = "EKS-PodIdentity-S3-ReadOnly-Role-101"


def manifests(tmp_path):
    directory = tmp_path / "kube-manifests"
    directory.mkdir()
    (directory / "01_k8s_service_account.yaml").write_text(SERVICE_ACCOUNT)
    (directory / "02_k8s_aws_cli_pod.yaml").write_text(POD)
    return directory


def node_role_denial(account):
    return (f"An error occurred (AccessDenied) when calling the ListBuckets operation: User: "
            f"arn:aws:sts::{account}:assumed-role/eksctl-eksdemo1-nodegroup-eksdemo1-"
            "NodeInstanceRole-")


def modes():
    netns = pytest.param(True, id="netns", marks=pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None,
        reason="network namespaces need root and iproute2"))
    return [pytest.param(False, id="loopback"), netns]


@pytest.mark.parametrize("netns", modes())
def test_every_step_of_the_tutorial(tmp_path, netns):
    sandbox = Sandbox(tmp_path, netns=netns).start()
    try:
        run_tutorial(sandbox, tmp_path)
    finally:
        sandbox.stop()


def run_tutorial(sandbox, tmp_path):
    account = sandbox.account
    sandbox.s3().create_bucket(Bucket="eksdemo1-tutorial-bucket")

    # Step-01: the agent runs on the node as a DaemonSet.
    daemonsets = sandbox.podid("get", "daemonset", "-n", "kube-system")
    assert daemonsets.returncode == 0, daemonsets.stderr
    lines = daemonsets.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE",
                                "AVAILABLE", "NODE", "SELECTOR", "AGE"]
    assert lines[1].split()[:6] == ["eks-pod-identity-agent", "1", "1", "1", "1", "1"]
    pods = sandbox.podid("get", "pods", "-n", "kube-system").stdout
    assert "eks-pod-identity-agent-" in pods and "1/1     Running" in pods

    # Step-02: the manifests apply; the pod acts as the node's instance role and is denied.
    directory = manifests(tmp_path)
    applied = sandbox.podid("apply", "-f", directory)
    assert applied.stdout == "serviceaccount/aws-cli-sa created\npod/aws-cli created\n", \
        applied.stderr
    listing = sandbox.podid("get", "pods").stdout
    assert listing.splitlines()[1].split()[:3] == ["aws-cli", "1/1", "Running"]
    denied = sandbox.exec("aws-cli", "aws", "s3", "ls")
    assert denied.returncode == service_error_status(), denied.stderr
    assert node_role_denial(account) in denied.stderr
    assert "is not authorized to perform: s3:ListAllMyBuckets because no identity-based " \
           "policy allows the s3:ListAllMyBuckets action" in denied.stderr
    assert f"command terminated with exit code {service_error_status()}" in denied.stderr

    # Step-03: the role, with the tutorial's trust policy and AmazonS3ReadOnlyAccess.
    trust = tmp_path / "trust.json"
    trust.write_text(TUTORIAL_TRUST)
    created = sandbox.aws("iam", "create-role", "--role-name", ROLE,
                          "--assume-role-policy-document", f"file://{trust}")
    assert created.returncode == 0, created.stderr
    role_arn = json.loads(created.stdout)["Role"]["Arn"]
    attached = sandbox.aws("iam", "attach-role-policy", "--role-name", ROLE, "--policy-arn",
                           "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    assert attached.returncode == 0, attached.stderr

    # Step-04: the association.
    association = sandbox.aws("eks", "create-pod-identity-association", "--cluster-name",
                              "eksdemo1", "--namespace", "default", "--service-account",
                              "aws-cli-sa", "--role-arn", role_arn)
    assert association.returncode == 0, association.stderr
    assert json.loads(association.stdout)["association"]["roleArn"] == role_arn

    # Step-05: the running pod still acts as the node; recreated, it lists the buckets.
    still = sandbox.exec("aws-cli", "aws", "s3", "ls")
    assert still.returncode == service_error_status() and node_role_denial(account) in still.stderr
    deleted = sandbox.podid("delete", "pod", "aws-cli", "-n", "default")
    assert deleted.stdout == 'pod "aws-cli" deleted\n', deleted.stderr
    again = sandbox.podid("apply", "-f", directory / "02_k8s_aws_cli_pod.yaml")
    assert again.stdout == "pod/aws-cli created\n", again.stderr
    listed = sandbox.exec("aws-cli", "aws", "s3", "ls")
    assert listed.returncode == 0, listed.stderr
    assert "eksdemo1-tutorial-bucket" in listed.stdout
    who = sandbox.exec("aws-cli", "aws", "sts", "get-caller-identity", "--output", "json")
    arn = json.loads(who.stdout)["Arn"]
    assert arn.startswith(f"arn:aws:sts::{account}:assumed-role/{ROLE}/eks-eksdemo1-aws-cli-")


def test_always_mode_needs_no_restart_and_never_falls_back(tmp_path):
    sandbox = Sandbox(tmp_path).start()
    try:
        directory = tmp_path / "team"
        directory.mkdir()
        (directory / "all.yaml").write_text(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  labels:\n"
            "    podid.dev/identity-injection: always\n---\n"
            + SERVICE_ACCOUNT.replace("default", "team-a") + "---\n"
            + POD.replace("namespace: default", "namespace: team-a"))
        applied = sandbox.podid("apply", "-f", directory)
        assert applied.stdout == ("namespace/team-a created\nserviceaccount/aws-cli-sa created\n"
                                  "pod/aws-cli created\n"), applied.stderr

        refused = sandbox.exec("aws-cli", "aws", "sts", "get-caller-identity", namespace="team-a")
        assert refused.returncode != 0
        assert "no pod identity association for service account team-a/aws-cli-sa" in \
            refused.stderr
        assert "NodeInstanceRole" not in refused.stderr + refused.stdout

        role_arn = sandbox.role("team-a-role")
        sandbox.client("eks").create_pod_identity_association(
            clusterName="eksdemo1", namespace="team-a", serviceAccount="aws-cli-sa",
            roleArn=role_arn)
        who = sandbox.exec("aws-cli", "aws", "sts", "get-caller-identity", "--output", "json",
                           namespace="team-a")
        assert who.returncode == 0, who.stderr
        assert "assumed-role/team-a-role/eks-eksdemo1-aws-cli-" in json.loads(who.stdout)["Arn"]
    finally:
        sandbox.stop()


def test_a_restart_keeps_pods_roles_and_associations(tmp_path):
    sandbox = Sandbox(tmp_path).start()
    try:
        sandbox.apply(manifests(tmp_path))
        role_arn = sandbox.role("kept-role")
        sandbox.client("eks").create_pod_identity_association(
            clusterName="eksdemo1", namespace="default", serviceAccount="aws-cli-sa",
            roleArn=role_arn)
        sandbox.podid("delete", "pod", "aws-cli")
        sandbox.apply(tmp_path / "kube-manifests" / "02_k8s_aws_cli_pod.yaml")
    finally:
        sandbox.stop()
    sandbox.start()
    try:
        who = sandbox.exec("aws-cli", "aws", "sts", "get-caller-identity", "--output", "json")
        assert who.returncode == 0, who.stderr
        assert "assumed-role/kept-role/" in json.loads(who.stdout)["Arn"]
    finally:
        sandbox.stop()


def test_the_command_line_says_what_to_do(tmp_path):
    sandbox = Sandbox(tmp_path)
    missing = sandbox.podid("get", "pods")
    assert missing.returncode == 1
    assert "no sandbox is running in" in missing.stderr and "podid sandbox up" in missing.stderr
    sandbox.start()
    try:
        bad = tmp_path / "bad.yaml"
        bad.write_text("apiVersion: v1\nkind: Deployment\nmetadata:\n  name: web\n---\n"
                       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: orphan\nspec:\n"
                       "  serviceAccountName: nobody\n  containers:\n  - name: c\n")
        result = sandbox.podid("apply", "-f", bad)
        assert result.returncode == 1
        assert "kind Deployment is not supported by the sandbox cluster" in result.stderr
        assert 'serviceaccount "nobody" not found' in result.stderr
        unknown = sandbox.podid("get", "nodes")
        assert 'the server doesn\'t have a resource type "nodes"' in unknown.stderr
        nothing = sandbox.exec("no-such-pod", "true")
        assert 'pods \\"no-such-pod\\" not found' in nothing.stderr or \
            'pods "no-such-pod" not found' in nothing.stderr
    finally:
        sandbox.stop()


def test_session_tags_need_a_trust_policy_that_allows_them(tmp_path):
    """The control plane's sessions come from the sandbox's STS, which enforces trust and tags
    for real: a role that trusts pod identity without sts:TagSession serves only associations
    that disable session tags."""
    sandbox = Sandbox(tmp_path).start()
    try:
        sandbox.apply(manifests(tmp_path))
        sandbox.podid("delete", "pod", "aws-cli")
        no_tags = TUTORIAL_TRUST.replace(',\n                "sts:TagSession"', "")
        assert "TagSession" not in no_tags
        role_arn = sandbox.role("no-tags-role", trust=no_tags)
        eks = sandbox.client("eks")
        association = eks.create_pod_identity_association(
            clusterName="eksdemo1", namespace="default", serviceAccount="aws-cli-sa",
            roleArn=role_arn)["association"]
        sandbox.apply(tmp_path / "kube-manifests" / "02_k8s_aws_cli_pod.yaml")
        refused = sandbox.exec("aws-cli", "aws", "sts", "get-caller-identity")
        assert refused.returncode != 0
        assert "sts:TagSession" in refused.stderr, refused.stderr

        eks.update_pod_identity_association(
            clusterName="eksdemo1", associationId=association["associationId"],
            disableSessionTags=True)
        who = sandbox.exec("aws-cli", "aws", "sts", "get-caller-identity", "--output", "json")
        assert who.returncode == 0, who.stderr
        assert "assumed-role/no-tags-role/" in json.loads(who.stdout)["Arn"]
    finally:
        sandbox.stop()


def test_the_agent_signs_with_the_node_role_which_needs_eks_auth_permission(tmp_path):
    """As on EKS, the node's agent calls EKS Auth with the node's instance role: without
    AmazonEKSWorkerNodePolicy (which grants eks-auth:AssumeRoleForPodIdentity) pods get no
    credentials, and with it back they do."""
    sandbox = Sandbox(tmp_path).start()
    try:
        sandbox.apply(manifests(tmp_path))
        sandbox.podid("delete", "pod", "aws-cli")
        sandbox.client("eks").create_pod_identity_association(
            clusterName="eksdemo1", namespace="default", serviceAccount="aws-cli-sa",
            roleArn=sandbox.role("node-permission-role"))
        roles = json.loads(sandbox.aws("iam", "list-roles", "--output", "json").stdout)["Roles"]
        [node_role] = [r["RoleName"] for r in roles if "NodeInstanceRole" in r["RoleName"]]
        policy = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
        detached = sandbox.aws("iam", "detach-role-policy", "--role-name", node_role,
                               "--policy-arn", policy)
        assert detached.returncode == 0, detached.stderr

        sandbox.apply(tmp_path / "kube-manifests" / "02_k8s_aws_cli_pod.yaml")
        refused = sandbox.exec("aws-cli", "aws", "sts", "get-caller-identity")
        assert refused.returncode != 0
        assert f"assumed-role/{node_role}/" in refused.stderr, refused.stderr
        assert "is not authorized to perform: eks-auth:AssumeRoleForPodIdentity" in \
            refused.stderr, refused.stderr

        attached = sandbox.aws("iam", "attach-role-policy", "--role-name", node_role,
                               "--policy-arn", policy)
        assert attached.returncode == 0, attached.stderr
        who = sandbox.exec("aws-cli", "aws", "sts", "get-caller-identity", "--output", "json")
        assert who.returncode == 0, who.stderr
        assert "assumed-role/node-permission-role/eks-eksdemo1-aws-cli-" in \
            json.loads(who.stdout)["Arn"]
    finally:
        sandbox.stop()
