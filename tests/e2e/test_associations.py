"""The AWS CLI and boto3 manage pod identity associations on `podid server`."""

import json
import signal
import threading
import time
import urllib.error
import urllib.request

import botocore.exceptions
import pytest

from control_plane import Server

ROLE = "arn:aws:iam::123456789012:role/EKS-PodIdentity-S3-ReadOnly-Role-101"


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path)
    running.start()
    yield running
    running.stop()


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value.response


def test_cli_runs_every_operation(server):
    created = server.cli(
        "create-pod-identity-association", "--cluster-name", "eksdemo1",
        "--namespace", "default", "--service-account", "aws-cli-sa", "--role-arn", ROLE,
        "--tags", "team=data,env=dev",
    )
    assert created.returncode == 0, created.stderr
    association = json.loads(created.stdout)["association"]
    assert association["clusterName"] == "eksdemo1"
    assert association["namespace"] == "default"
    assert association["serviceAccount"] == "aws-cli-sa"
    assert association["roleArn"] == ROLE
    assert association["tags"] == {"team": "data", "env": "dev"}
    assert association["disableSessionTags"] is False
    association_id = association["associationId"]
    assert association_id.startswith("a-") and len(association_id) == 19
    assert association["associationArn"] == (
        f"arn:aws:eks:us-west-2:123456789012:podidentityassociation/eksdemo1/{association_id}"
    )

    described = server.cli("describe-pod-identity-association", "--cluster-name", "eksdemo1",
                           "--association-id", association_id)
    assert json.loads(described.stdout)["association"] == association

    listed = json.loads(server.cli("list-pod-identity-associations", "--cluster-name",
                                   "eksdemo1").stdout)
    assert [a["associationId"] for a in listed["associations"]] == [association_id]
    assert set(listed["associations"][0]) == {
        "clusterName", "namespace", "serviceAccount", "associationArn", "associationId"}

    other_role = "arn:aws:iam::111122223333:role/Other"
    updated = server.cli("update-pod-identity-association", "--cluster-name", "eksdemo1",
                         "--association-id", association_id, "--role-arn", other_role)
    assert updated.returncode == 0, updated.stderr
    updated = json.loads(updated.stdout)["association"]
    assert updated["roleArn"] == other_role
    assert updated["modifiedAt"] >= updated["createdAt"]

    deleted = server.cli("delete-pod-identity-association", "--cluster-name", "eksdemo1",
                         "--association-id", association_id)
    assert json.loads(deleted.stdout)["association"]["roleArn"] == other_role

    gone = server.cli("describe-pod-identity-association", "--cluster-name", "eksdemo1",
                      "--association-id", association_id)
    assert gone.returncode in (254, 255)  # AWS CLI v2 and v1 exit codes for a service error
    assert "ResourceNotFoundException" in gone.stderr and association_id in gone.stderr


def test_boto3_paginates_and_filters(server):
    eks = server.eks()
    created = set()
    for index in range(7):
        namespace = "team-a" if index % 2 else "team-b"
        answer = eks.create_pod_identity_association(
            clusterName="eksdemo1", namespace=namespace, serviceAccount=f"app-{index}",
            roleArn=ROLE)
        created.add(answer["association"]["associationId"])

    pages = list(eks.get_paginator("list_pod_identity_associations").paginate(
        clusterName="eksdemo1", PaginationConfig={"PageSize": 3}))
    assert [len(page["associations"]) for page in pages] == [3, 3, 1]
    assert "nextToken" not in pages[-1]
    assert {a["associationId"] for page in pages for a in page["associations"]} == created

    team_a = eks.list_pod_identity_associations(clusterName="eksdemo1", namespace="team-a")
    assert {a["serviceAccount"] for a in team_a["associations"]} == {"app-1", "app-3", "app-5"}
    one = eks.list_pod_identity_associations(clusterName="eksdemo1", namespace="team-a",
                                             serviceAccount="app-3")
    assert len(one["associations"]) == 1
    assert eks.list_pod_identity_associations(clusterName="other")["associations"] == []


def test_create_is_idempotent_with_a_client_request_token(server):
    eks = server.eks()
    request = dict(clusterName="eksdemo1", namespace="default", serviceAccount="aws-cli-sa",
                   roleArn=ROLE, clientRequestToken="token-1")
    first = eks.create_pod_identity_association(**request)["association"]
    again = eks.create_pod_identity_association(**request)["association"]
    assert again == first

    changed = dict(request, serviceAccount="another")
    error = error_of(lambda: eks.create_pod_identity_association(**changed))
    assert error["Error"]["Code"] == "InvalidRequestException"
    assert "clientRequestToken" in error["Error"]["Message"]

    second = dict(request, clientRequestToken="token-2")
    error = error_of(lambda: eks.create_pod_identity_association(**second))
    assert error["Error"]["Code"] == "ResourceInUseException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert first["associationId"] in error["Error"]["Message"]


@pytest.mark.parametrize("changes, code, message", [
    ({"namespace": "Default"}, "InvalidParameterException", "not a valid Kubernetes namespace"),
    ({"serviceAccount": "bad_name"}, "InvalidParameterException", "service account name"),
    ({"roleArn": "arn:aws:iam::111122223333:user/bob"}, "InvalidParameterException",
     "not an IAM role ARN"),
    ({"targetRoleArn": "role/x"}, "InvalidParameterException", "targetRoleArn"),
    ({"policy": "{}"}, "InvalidParameterException", "disableSessionTags is true"),
    ({"policy": "{", "disableSessionTags": True}, "InvalidParameterException", "not valid JSON"),
    ({"tags": {f"k{i}": "v" for i in range(51)}}, "InvalidParameterException", "at most 50"),
    ({"tags": {"aws:x": "v"}}, "InvalidParameterException", "reserved prefix"),
    ({"clusterName": "nosuchcluster"}, "ResourceNotFoundException",
     "No cluster found for name: nosuchcluster."),
])
def test_create_validation_errors(server, changes, code, message):
    request = dict(clusterName="eksdemo1", namespace="default", serviceAccount="aws-cli-sa",
                   roleArn=ROLE)
    request.update(changes)
    error = error_of(lambda: server.eks().create_pod_identity_association(**request))
    assert error["Error"]["Code"] == code
    assert message in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == (404 if "NotFound" in code else 400)


def test_other_operation_errors(server):
    eks = server.eks()
    created = eks.create_pod_identity_association(
        clusterName="eksdemo1", namespace="default", serviceAccount="sa", roleArn=ROLE)
    association_id = created["association"]["associationId"]

    error = error_of(lambda: eks.update_pod_identity_association(
        clusterName="eksdemo1", associationId=association_id))
    assert error["Error"]["Code"] == "InvalidParameterException"
    assert "at least one of" in error["Error"]["Message"]

    error = error_of(lambda: eks.describe_pod_identity_association(
        clusterName="other", associationId=association_id))
    assert error["Error"]["Code"] == "ResourceNotFoundException"

    error = error_of(lambda: eks.list_pod_identity_associations(
        clusterName="eksdemo1", maxResults=101))
    assert error["Error"]["Code"] == "InvalidParameterException"
    assert "between 1 and 100" in error["Error"]["Message"]

    error = error_of(lambda: eks.list_pod_identity_associations(
        clusterName="eksdemo1", nextToken="forged"))
    assert error["Error"]["Code"] == "InvalidParameterException"

    error = error_of(lambda: eks.delete_pod_identity_association(
        clusterName="eksdemo1", associationId="a-doesnotexist0000"))
    assert error["Error"]["Code"] == "ResourceNotFoundException"


def test_target_role_and_session_policy(server):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
    association = server.eks().create_pod_identity_association(
        clusterName="eksdemo1", namespace="default", serviceAccount="cross",
        roleArn=ROLE, targetRoleArn="arn:aws:iam::444455556666:role/Target",
        disableSessionTags=True, policy=policy)["association"]
    assert association["targetRoleArn"] == "arn:aws:iam::444455556666:role/Target"
    assert association["externalId"] == "us-west-2/123456789012/eksdemo1/default/cross"
    assert association["disableSessionTags"] is True
    assert json.loads(association["policy"]) == json.loads(policy)

    updated = server.eks().update_pod_identity_association(
        clusterName="eksdemo1", associationId=association["associationId"],
        targetRoleArn="")["association"]
    assert "targetRoleArn" not in updated and "externalId" not in updated


def test_limits_and_malformed_bodies(tmp_path):
    server = Server(tmp_path, max_associations=2)
    server.start()
    try:
        eks = server.eks()
        for name in ("one", "two"):
            eks.create_pod_identity_association(
                clusterName="eksdemo1", namespace="default", serviceAccount=name, roleArn=ROLE)
        error = error_of(lambda: eks.create_pod_identity_association(
            clusterName="eksdemo1", namespace="default", serviceAccount="three", roleArn=ROLE))
        assert error["Error"]["Code"] == "ResourceLimitExceededException"

        url = f"{server.endpoint}/clusters/eksdemo1/pod-identity-associations"
        for body, status, fragment in [
            (b"{not json", 400, "request body is not valid"),
            (b"x" * 70000, 413, "exceeds 65536 bytes"),
        ]:
            request = urllib.request.Request(url, data=body, method="POST")
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request)
            assert caught.value.code == status
            assert fragment in json.loads(caught.value.read())["message"]
    finally:
        server.stop()


def test_acknowledged_creates_survive_a_kill(tmp_path):
    server = Server(tmp_path)
    server.start()
    acknowledged, lock = [], threading.Lock()

    def create_many(worker):
        eks = server.eks()
        for index in range(200):
            try:
                answer = eks.create_pod_identity_association(
                    clusterName="eksdemo1", namespace="load", serviceAccount=f"w{worker}-{index}",
                    roleArn=ROLE)
            except Exception:  # the server was killed mid-request
                return
            with lock:
                acknowledged.append(answer["association"]["associationId"])

    workers = [threading.Thread(target=create_many, args=(w,)) for w in range(4)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop(signal.SIGKILL)
    for worker in workers:
        worker.join(timeout=60)
    assert len(acknowledged) >= 40

    server.start()
    try:
        pages = server.eks().get_paginator("list_pod_identity_associations").paginate(
            clusterName="eksdemo1", namespace="load")
        stored = {a["associationId"] for page in pages for a in page["associations"]}
        assert set(acknowledged) <= stored, set(acknowledged) - stored
    finally:
        server.stop()
