"""The sandbox's S3 and instance metadata with the real AWS CLI and boto3: round trips, denials
in AWS's words, the node role through IMDS, ABAC on prefixes, and bad input."""

import json
import socket
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config

from conftest import VENV_BIN
from sandbox import error_of, module_sandbox, service_error_status, Sandbox, admin_trust

FULL = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


sandbox = module_sandbox("s3")


def role_session(sandbox, name, policies=(), inline=None, tags=None):
    arn = sandbox.role(name, trust=admin_trust(sandbox.account), policies=policies,
                       inline=inline)
    return sandbox.session(arn, name=f"{name}-session", tags=tags)


def test_cli_round_trips_with_an_allowed_role(sandbox, tmp_path):
    env = sandbox.session_env(role_session(sandbox, "s3-writer", policies=[FULL]))
    run = lambda *args: sandbox.aws("s3", *args, env=env)  # noqa: E731
    made = run("mb", "s3://round-trip")
    assert made.returncode == 0 and "make_bucket: round-trip" in made.stdout, made.stderr

    source = tmp_path / "upload"
    (source / "dir").mkdir(parents=True)
    (source / "hello.txt").write_text("hello, pod identity\n")
    (source / "dir" / "data.bin").write_bytes(bytes(range(256)) * 64)
    copied = run("cp", source / "hello.txt", "s3://round-trip/hello.txt")
    assert copied.returncode == 0, copied.stderr
    synced = run("sync", source, "s3://round-trip/synced/")
    assert synced.returncode == 0 and "data.bin" in synced.stdout, synced.stderr

    listing = run("ls", "s3://round-trip/", "--recursive")
    keys = [line.split()[-1] for line in listing.stdout.splitlines()]
    assert keys == ["hello.txt", "synced/dir/data.bin", "synced/hello.txt"], listing.stdout
    buckets = run("ls")
    assert "round-trip" in buckets.stdout

    back = tmp_path / "back"
    assert run("sync", "s3://round-trip/synced/", back).returncode == 0
    assert (back / "dir" / "data.bin").read_bytes() == bytes(range(256)) * 64
    assert run("cp", "s3://round-trip/hello.txt", "-").stdout == "hello, pod identity\n"

    assert run("rm", "s3://round-trip/", "--recursive").returncode == 0
    assert run("ls", "s3://round-trip/").stdout == ""
    assert run("rb", "s3://round-trip").returncode == 0


def test_a_role_without_the_permission_is_denied_in_aws_words(sandbox):
    session = role_session(sandbox, "s3-reader", policies=[READ_ONLY])
    account = sandbox.account
    made = sandbox.aws("s3", "mb", "s3://not-mine", env=sandbox.session_env(session))
    assert made.returncode == 1, made.stderr
    assert (f"An error occurred (AccessDenied) when calling the CreateBucket operation: User: "
            f"arn:aws:sts::{account}:assumed-role/s3-reader/s3-reader-session is not authorized "
            'to perform: s3:CreateBucket on resource: "arn:aws:s3:::not-mine" because no '
            "identity-based policy allows the s3:CreateBucket action") in made.stderr

    nothing = role_session(sandbox, "s3-nothing")
    listed = sandbox.aws("s3", "ls", env=sandbox.session_env(nothing))
    assert listed.returncode == service_error_status()
    assert (f"An error occurred (AccessDenied) when calling the ListBuckets operation: User: "
            f"arn:aws:sts::{account}:assumed-role/s3-nothing/s3-nothing-session is not "
            "authorized to perform: s3:ListAllMyBuckets because no identity-based policy allows "
            "the s3:ListAllMyBuckets action") in listed.stderr


def test_uploads_by_a_read_only_role_are_denied_in_aws_words(sandbox, tmp_path):
    """The tutorial's role may read and not write: an upload is refused with S3's AccessDenied
    whatever its size, and the connection it came on stays usable."""
    sandbox.s3().create_bucket(Bucket="read-only-target")
    session = role_session(sandbox, "s3-uploader", policies=[READ_ONLY])
    account = sandbox.account
    denial = (f"User: arn:aws:sts::{account}:assumed-role/s3-uploader/s3-uploader-session is not "
              "authorized to perform: s3:PutObject on resource: "
              '"arn:aws:s3:::read-only-target/{key}" because no identity-based policy allows '
              "the s3:PutObject action")
    for size in (10, 200 * 1024, 9 * 1024 * 1024):
        source = tmp_path / f"upload-{size}"
        source.write_bytes(b"x" * size)
        key = f"upload-{size}"
        copied = sandbox.aws("s3", "cp", source, f"s3://read-only-target/{key}",
                             env=sandbox.session_env(session))
        assert copied.returncode == 1, copied.stderr
        assert "(AccessDenied)" in copied.stderr, copied.stderr
        assert denial.format(key=key) in copied.stderr, copied.stderr

    s3 = sandbox.s3(**session)
    for attempt in range(3):
        denied = error_of(lambda: s3.put_object(Bucket="read-only-target", Key="again",
                                                Body=b"y" * 100_000))
        assert denied["Code"] == "AccessDenied", denied
        assert denial.format(key="again") in denied["Message"]
    assert s3.list_objects_v2(Bucket="read-only-target").get("Contents") is None


def imds_env(sandbox, home):
    """A process with no credentials of its own, on the node: only the metadata service. The
    region is given, as the AWS CLI v1 does not ask the metadata service for it."""
    return {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(home),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{sandbox.port_base + 7}/",
            "AWS_ENDPOINT_URL": sandbox.endpoint}


def test_the_node_role_through_instance_metadata(sandbox, tmp_path):
    env = imds_env(sandbox, tmp_path)
    who = sandbox.aws("sts", "get-caller-identity", "--output", "json", env=env)
    assert who.returncode == 0, who.stderr
    arn = json.loads(who.stdout)["Arn"]
    account = sandbox.account
    assert arn.startswith(f"arn:aws:sts::{account}:assumed-role/eksctl-eksdemo1-nodegroup-"
                          "eksdemo1-NodeInstanceRole-"), arn
    instance = arn.rsplit("/", 1)[1]
    assert instance.startswith("i-0")

    listed = sandbox.aws("s3", "ls", env=env)
    assert listed.returncode == service_error_status()
    assert (f"An error occurred (AccessDenied) when calling the ListBuckets operation: User: "
            f"{arn} is not authorized to perform: s3:ListAllMyBuckets because no "
            "identity-based policy allows the s3:ListAllMyBuckets action") in listed.stderr


def imds(sandbox, path, token=None, method="GET", headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{sandbox.port_base + 7}{path}",
                                     method=method, headers=headers or {})
    if token:
        request.add_header("X-aws-ec2-metadata-token", token)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_imds_speaks_v2_and_v1(sandbox):
    status, token = imds(sandbox, "/latest/api/token", method="PUT",
                         headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert status == 200 and token
    status, role = imds(sandbox, "/latest/meta-data/iam/security-credentials/", token)
    assert status == 200 and "NodeInstanceRole" in role
    status, body = imds(sandbox, f"/latest/meta-data/iam/security-credentials/{role}", token)
    credentials = json.loads(body)
    assert credentials["Code"] == "Success" and credentials["AccessKeyId"].startswith("ASIA")
    assert imds(sandbox, "/latest/meta-data/placement/region")[1] == "us-east-1"
    assert imds(sandbox, "/latest/meta-data/instance-id", "forged-token")[0] == 401
    bad_ttl = imds(sandbox, "/latest/api/token", method="PUT",
                   headers={"X-aws-ec2-metadata-token-ttl-seconds": "0"})
    assert bad_ttl[0] == 400
    assert imds(sandbox, "/latest/meta-data/iam/security-credentials/other-role")[0] == 404


def test_imdsv2_can_be_required(tmp_path):
    strict = Sandbox(tmp_path, extra_args=["--require-imdsv2"]).start()
    try:
        status, _ = imds(strict, "/latest/meta-data/instance-id")
        assert status == 401
        status, token = imds(strict, "/latest/api/token", method="PUT",
                             headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        assert status == 200
        status, instance = imds(strict, "/latest/meta-data/instance-id", token)
        assert status == 200 and instance.startswith("i-0")
        # The AWS CLI speaks IMDSv2 on its own, so the node role still works.
        who = strict.aws("sts", "get-caller-identity", "--output", "json",
                         env=imds_env(strict, tmp_path))
        assert who.returncode == 0 and "NodeInstanceRole" in who.stdout, who.stderr
    finally:
        strict.stop()


def test_two_sessions_of_one_role_see_their_own_prefixes(sandbox):
    admin = sandbox.s3()
    admin.create_bucket(Bucket="shared-data")
    for namespace in ("team-a", "team-b"):
        admin.put_object(Bucket="shared-data", Key=f"{namespace}/report.txt", Body=namespace)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::shared-data",
         "Condition": {"StringLike": {
             "s3:prefix": "${aws:PrincipalTag/kubernetes-namespace}/*"}}},
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::shared-data/${aws:PrincipalTag/kubernetes-namespace}/*"}]})
    arn = sandbox.role("abac-s3", trust=admin_trust(sandbox.account), inline=policy)
    for mine, theirs in (("team-a", "team-b"), ("team-b", "team-a")):
        s3 = sandbox.s3(**sandbox.session(arn, name=mine,
                                          tags={"kubernetes-namespace": mine}))
        listed = s3.list_objects_v2(Bucket="shared-data", Prefix=f"{mine}/")
        assert [o["Key"] for o in listed["Contents"]] == [f"{mine}/report.txt"]
        body = s3.get_object(Bucket="shared-data", Key=f"{mine}/report.txt")["Body"].read()
        assert body == mine.encode()
        denied = error_of(lambda: s3.list_objects_v2(Bucket="shared-data", Prefix=f"{theirs}/"))
        assert denied["Code"] == "AccessDenied"
        denied = error_of(lambda: s3.get_object(Bucket="shared-data",
                                                Key=f"{theirs}/report.txt"))
        assert "s3:GetObject" in denied["Message"]


def test_virtual_hosted_and_presigned_requests(sandbox, monkeypatch):
    admin = sandbox.s3()
    admin.create_bucket(Bucket="virtual")
    admin.put_object(Bucket="virtual", Key="a/b.txt", Body=b"virtual host")
    # As DNS would: every name under localhost is this machine.
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *rest: real(
        "127.0.0.1" if host.endswith(".localhost") else host, *rest))
    port = sandbox.port_base
    virtual = boto3.client(
        "s3", endpoint_url=f"http://localhost:{port}", region_name="us-east-1",
        aws_access_key_id=sandbox.exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=sandbox.exports["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1}))
    assert virtual.get_object(Bucket="virtual", Key="a/b.txt")["Body"].read() == b"virtual host"

    url = admin.generate_presigned_url("get_object", Params={"Bucket": "virtual",
                                                             "Key": "a/b.txt"}, ExpiresIn=60)
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == b"virtual host"
    tampered = url.replace("a/b.txt", "a/c.txt")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(tampered)
    assert raised.value.code == 403
    assert b"SignatureDoesNotMatch" in raised.value.read()


def test_bad_requests_are_refused_precisely(sandbox):
    endpoint = sandbox.endpoint
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{endpoint}/")
    assert raised.value.code == 403 and b"<Code>AccessDenied</Code>" in raised.value.read()

    wrong = {"aws_access_key_id": sandbox.exports["AWS_ACCESS_KEY_ID"],
             "aws_secret_access_key": "wrong"}
    assert error_of(lambda: sandbox.s3(**wrong).list_buckets())["Code"] == \
        "SignatureDoesNotMatch"
    unknown = {"aws_access_key_id": "AKIAUNKNOWNKEY000000", "aws_secret_access_key": "x"}
    assert error_of(lambda: sandbox.s3(**unknown).list_buckets())["Code"] == \
        "InvalidAccessKeyId"

    admin = sandbox.s3()
    admin.create_bucket(Bucket="bad-input")

    def garbage_body(request, **_kwargs):
        request.data = b"<Delete><Object><Key>unclosed"
        request.headers["Content-Length"] = str(len(request.data))
        # The checksums of the original body would refuse the request before its XML is read.
        for checksum in [name for name in request.headers.keys()
                         if name.lower() in ("content-md5", "x-amz-checksum-crc32")]:
            del request.headers[checksum]
    admin.meta.events.register("before-sign.s3.DeleteObjects", garbage_body)
    error = error_of(lambda: admin.delete_objects(Bucket="bad-input",
                                                  Delete={"Objects": [{"Key": "k"}]}))
    assert error["Code"] == "MalformedXML"

    huge = urllib.request.Request(f"{endpoint}/", headers={"X-Huge": "x" * 70_000})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(huge)
    assert raised.value.code == 431
