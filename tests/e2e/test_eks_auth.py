"""`AssumeRoleForPodIdentity` on `podid server`, with moto as STS and IAM."""

import json

import botocore.exceptions
import pytest

from conftest import Processes, free_port, pod_env, wait_for_file_text
from control_plane import (MOTO_ACCOUNT, Moto, RecordingProxy, Server, session_tags)
from issuer import Issuer, agent_claims, jwks, pod_claims

ROLE_NAME = "EKS-PodIdentity-S3-ReadOnly-Role-101"


@pytest.fixture
def plane(tmp_path):
    moto = Moto(tmp_path)
    proxy = RecordingProxy(moto.endpoint)
    issuer = Issuer()
    server = Server(tmp_path, sts_endpoint=proxy.endpoint, iam_endpoint=moto.endpoint,
                    issuers=[issuer])
    server.start()
    role_arn = moto.create_role(ROLE_NAME)
    server.eks().create_pod_identity_association(
        clusterName="eksdemo1", namespace="default", serviceAccount="aws-cli-sa",
        roleArn=role_arn)

    class Plane:
        pass

    plane = Plane()
    plane.moto, plane.proxy, plane.issuer, plane.server = moto, proxy, issuer, server
    plane.role_arn = role_arn
    plane.agent_token = issuer.sign(agent_claims(node="node-1"))
    yield plane
    server.stop()
    proxy.stop()
    moto.stop()


def exchange(plane, token, node_token="agent"):
    node_token = plane.agent_token if node_token == "agent" else node_token
    client = plane.server.eks_auth(node_token)
    return client.assume_role_for_pod_identity(clusterName="eksdemo1", token=token)


def refusal(plane, token, node_token="agent"):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        exchange(plane, token, node_token)
    return caught.value.response["Error"]


def test_boto3_exchanges_a_pod_token_for_tagged_role_credentials(plane):
    answer = exchange(plane, plane.issuer.sign(pod_claims()))
    assert answer["subject"] == {"namespace": "default", "serviceAccount": "aws-cli-sa"}
    assert answer["audience"] == "pods.eks.amazonaws.com"
    association = answer["podIdentityAssociation"]
    assert association["associationId"].startswith("a-")
    assert association["associationArn"].endswith(f"/eksdemo1/{association['associationId']}")
    user = answer["assumedRoleUser"]
    assert user["arn"].startswith(
        f"arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/{ROLE_NAME}/eks-eksdemo1-aws-cli-")
    credentials = answer["credentials"]
    assert credentials["accessKeyId"].startswith("ASIA")
    assert credentials["expiration"].year >= 2024

    [call] = plane.proxy.assume_role_calls()
    assert call["RoleArn"] == plane.role_arn
    assert call["RoleSessionName"].startswith("eks-eksdemo1-aws-cli-")
    assert len(call["RoleSessionName"]) <= 64
    tags, transitive = session_tags(call)
    assert tags == {
        "eks-cluster-arn": f"arn:aws:eks:us-west-2:{MOTO_ACCOUNT}:cluster/eksdemo1",
        "eks-cluster-name": "eksdemo1",
        "kubernetes-namespace": "default",
        "kubernetes-service-account": "aws-cli-sa",
        "kubernetes-pod-name": "aws-cli",
        "kubernetes-pod-uid": "aws-cli-uid",
    }
    assert transitive == set(tags)
    assert "Policy" not in call and "ExternalId" not in call


def forged_tokens(issuer):
    genuine = issuer.sign(pod_claims())
    header, payload, signature = genuine.split(".")
    elevated = pod_claims(namespace="kube-system")
    import base64
    elevated_payload = base64.urlsafe_b64encode(json.dumps(elevated).encode()).rstrip(b"=")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    stranger = Issuer()
    no_pod = pod_claims()
    del no_pod["kubernetes.io"]["pod"]
    return [
        ("tampered payload", f"{header}.{elevated_payload.decode()}.{signature}",
         "InvalidTokenException", "signature is invalid"),
        ("alg none", f"{none_header}.{payload}.", "InvalidTokenException", '"none"'),
        ("HMAC with the public key", issuer.hmac_with_public_key(pod_claims()),
         "InvalidTokenException", '"HS256"'),
        ("wrong audience", issuer.sign(pod_claims(audience="sts.amazonaws.com")),
         "InvalidTokenException", "audience"),
        ("wrong issuer", issuer.sign(pod_claims(issuer="https://evil.example")),
         "InvalidTokenException", "issuer"),
        ("expired", issuer.sign(pod_claims(lifetime=-120)), "ExpiredTokenException", "expired"),
        ("future nbf", issuer.sign(dict(pod_claims(), nbf=pod_claims()["iat"] + 3600)),
         "InvalidTokenException", "not valid before"),
        ("unknown kid", stranger.sign(pod_claims()), "InvalidTokenException",
         "does not publish"),
        ("missing pod claim", issuer.sign(no_pod), "InvalidTokenException", "not bound to a pod"),
        ("token of another node", issuer.sign(pod_claims(node="node-2")),
         "AccessDeniedException", "node-2"),
    ]


def test_every_token_attack_is_refused_without_credentials(plane):
    for name, token, code, fragment in forged_tokens(plane.issuer):
        error = refusal(plane, token)
        assert error["Code"] == code, (name, error)
        assert fragment in error["Message"], (name, error)
    assert plane.proxy.assume_role_calls() == [], "no attack reached STS"
    metrics = plane.server.metrics()
    assert 'podid_server_token_verification_failures_total{reason="signature"}' in metrics


def test_only_node_agents_may_exchange(plane):
    token = plane.issuer.sign(pod_claims())
    error = refusal(plane, token, node_token=None)
    assert error["Code"] == "AccessDeniedException"
    assert "x-podid-node-token" in error["Message"]

    impostor = plane.issuer.sign(agent_claims(service_account="default", namespace="default"))
    error = refusal(plane, token, node_token=impostor)
    assert error["Code"] == "AccessDeniedException"
    assert "default/default is not an agent's" in error["Message"]

    error = refusal(plane, token, node_token=plane.issuer.sign(pod_claims(node="node-1")))
    assert error["Code"] == "AccessDeniedException" and "audience" in error["Message"]
    assert plane.proxy.assume_role_calls() == []


def test_no_association_and_missing_trust(plane):
    error = refusal(plane, plane.issuer.sign(pod_claims(service_account="nobody")))
    assert error["Code"] == "ResourceNotFoundException"
    assert "default/nobody" in error["Message"]

    no_tag_session = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = plane.moto.create_role("NoTagSession", no_tag_session)
    plane.server.eks().create_pod_identity_association(
        clusterName="eksdemo1", namespace="default", serviceAccount="untagged", roleArn=role)
    error = refusal(plane, plane.issuer.sign(pod_claims(service_account="untagged")))
    assert error["Code"] == "AccessDeniedException"
    assert "does not allow pods.eks.amazonaws.com to perform sts:TagSession" in error["Message"]
    assert plane.proxy.assume_role_calls() == []

    # Without session tags, sts:AssumeRole alone is enough.
    eks = plane.server.eks()
    [association] = eks.list_pod_identity_associations(
        clusterName="eksdemo1", serviceAccount="untagged")["associations"]
    eks.update_pod_identity_association(clusterName="eksdemo1",
        associationId=association["associationId"], disableSessionTags=True)
    exchange(plane, plane.issuer.sign(pod_claims(service_account="untagged")))
    [call] = plane.proxy.assume_role_calls()
    assert session_tags(call) == ({}, set())


def test_target_role_and_session_policy(plane):
    target = plane.moto.create_role("CrossAccountTarget")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
    plane.server.eks().create_pod_identity_association(
        clusterName="eksdemo1", namespace="default", serviceAccount="cross",
        roleArn=plane.role_arn, targetRoleArn=target, disableSessionTags=True, policy=policy)
    answer = exchange(plane, plane.issuer.sign(pod_claims(service_account="cross")))
    assert "/CrossAccountTarget/" in answer["assumedRoleUser"]["arn"]

    first, second = plane.proxy.assume_role_calls()
    assert first["RoleArn"] == plane.role_arn and json.loads(first["Policy"]) == json.loads(policy)
    assert second["RoleArn"] == target
    assert second["ExternalId"] == f"us-west-2/{MOTO_ACCOUNT}/eksdemo1/default/cross"
    assert second["DurationSeconds"] == "3600"
    assert second["RoleSessionName"] == first["RoleSessionName"]


def test_the_aws_cli_in_a_pod_through_the_agent(plane, tmp_path):
    processes = Processes(tmp_path)
    try:
        node_token = tmp_path / "agent-token"
        node_token.write_text(plane.agent_token)
        agent_port = free_port()
        processes.agent(
            ["-c", "eksdemo1", "--endpoint", plane.server.endpoint,
             "--node-token-file", node_token],
            ["-b", "127.0.0.1", "-p", agent_port, "--probe-port", free_port(),
             "--metrics-address", "127.0.0.1", "--metrics-port", free_port()])
        token_file = tmp_path / "pod-token"
        token_file.write_text(plane.issuer.sign(pod_claims()))
        env = pod_env(tmp_path, f"http://127.0.0.1:{agent_port}/v1/credentials", token_file, 0)
        env["AWS_ENDPOINT_URL"] = plane.moto.endpoint
        result = processes.run(["aws", "sts", "get-caller-identity", "--output", "json"], env)
        assert result.returncode == 0, result.stderr
        arn = json.loads(result.stdout)["Arn"]
        assert arn.startswith(f"arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/{ROLE_NAME}/eks-eksdemo1-")

        issued = len(plane.proxy.assume_role_calls())
        for name, token, code, fragment in forged_tokens(plane.issuer):
            token_file.write_text(token)
            result = processes.run(["aws", "sts", "get-caller-identity"], env)
            assert result.returncode != 0, name
            # The agent refuses what it can tell is broken itself, with the same wording.
            body = json.loads(result.stderr.split("container metadata: ", 1)[1])
            assert body["Code"] == code.removesuffix("Exception"), (name, body)
            assert fragment in body["Message"], (name, body)
        assert len(plane.proxy.assume_role_calls()) == issued, "no attack got credentials"
    finally:
        processes.stop_all()


def test_key_rotation_needs_no_restart(plane):
    rotated = Issuer(kind="EC")
    plane.server.jwks_file.write_text(jwks(plane.issuer, rotated))
    answer = exchange(plane, rotated.sign(pod_claims()))
    assert answer["subject"]["serviceAccount"] == "aws-cli-sa"


def test_each_exchange_is_audited_and_no_secret_is_logged(plane):
    token = plane.issuer.sign(pod_claims())
    answer = exchange(plane, token)
    refusal(plane, plane.issuer.sign(pod_claims(node="node-2")))
    # Log lines reach the file in batches, a moment after they are written.
    wait_for_file_text(plane.server.log, "pod identity exchange", plane.server.process)
    log = plane.server.log.read_text()
    audit = [line for line in log.splitlines() if "pod identity exchange" in line]
    assert len(audit) == 1, log
    for field in ("cluster=eksdemo1", "namespace=default", "service_account=aws-cli-sa",
                  "pod=aws-cli", "node=\"node-1\"", f"role={plane.role_arn}",
                  "session=eks-eksdemo1-aws-cli-", "outcome=\"issued\""):
        assert field in audit[0], (field, audit[0])
    credentials = answer["credentials"]
    for secret in (token, plane.agent_token, credentials["secretAccessKey"],
                   credentials["sessionToken"], token.split(".")[2]):
        assert secret not in log


def test_a_pods_session_is_reused_until_half_its_lifetime(plane):
    first = exchange(plane, plane.issuer.sign(pod_claims()))
    again = exchange(plane, plane.issuer.sign(pod_claims()))
    assert again["credentials"] == first["credentials"]
    assert len(plane.proxy.assume_role_calls()) == 1
    other_pod = exchange(plane, plane.issuer.sign(pod_claims(pod="another")))
    assert other_pod["credentials"]["accessKeyId"] != first["credentials"]["accessKeyId"]
    assert len(plane.proxy.assume_role_calls()) == 2
    wait_for_file_text(plane.server.log, "outcome=\"reused\"", plane.server.process)


def test_trust_conditions_see_the_cluster_and_the_session_tags(plane):
    def trust(account, namespace):
        return {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account,
                                 "aws:RequestTag/kubernetes-namespace": namespace},
                "ArnEquals": {"aws:SourceArn":
                              f"arn:aws:eks:us-west-2:{MOTO_ACCOUNT}:cluster/eksdemo1"}}}]}

    eks = plane.server.eks()
    for name, account, namespace in [("Scoped", MOTO_ACCOUNT, "default"),
                                     ("OtherAccount", "444455556666", "default"),
                                     ("OtherNamespace", MOTO_ACCOUNT, "prod")]:
        role = plane.moto.create_role(name, trust(account, namespace))
        eks.create_pod_identity_association(clusterName="eksdemo1", namespace="default",
                                            serviceAccount=name.lower(), roleArn=role)
    answer = exchange(plane, plane.issuer.sign(pod_claims(service_account="scoped")))
    assert "/Scoped/" in answer["assumedRoleUser"]["arn"]
    for refused in ("otheraccount", "othernamespace"):
        error = refusal(plane, plane.issuer.sign(pod_claims(service_account=refused)))
        assert error["Code"] == "AccessDeniedException", error
        assert "does not allow pods.eks.amazonaws.com to perform sts:AssumeRole" in error["Message"]
