"""The real AWS CLI and boto3 get credentials through `podid agent`."""

import json
import os
import sys
import urllib.parse

from conftest import PODID, free_port, mint_token, pod_env, read_records

BOTO3_CREDENTIALS = (
    "import boto3, json; c = boto3.Session().get_credentials().get_frozen_credentials(); "
    "print(json.dumps({'key': c.access_key, 'secret': c.secret_key, 'token': c.token}))"
)


def loopback_agent(processes):
    eks_auth_port, sts_port, agent_port = free_port(), free_port(), free_port()
    eks_auth = processes.fake("eks-auth", eks_auth_port)
    sts = processes.fake("sts", sts_port)
    processes.agent(
        ["-c", "eksdemo1", "--endpoint", f"http://127.0.0.1:{eks_auth_port}"],
        ["-b", "127.0.0.1", "-p", agent_port, "--probe-port", free_port(),
         "--metrics-address", "127.0.0.1", "--metrics-port", free_port()],
    )
    uri = f"http://127.0.0.1:{agent_port}/v1/credentials"
    return uri, sts_port, eks_auth, sts


def start_agent_with_env(processes, eks_auth_port, agent_port, env):
    """The agent on loopback with exactly `env`, not the node keys `processes.agent` gives it;
    its log."""
    _, log = processes.start(
        "agent",
        [PODID, "agent", "-c", "eksdemo1", "--endpoint", f"http://127.0.0.1:{eks_auth_port}",
         "-b", "127.0.0.1", "-p", agent_port, "--probe-port", free_port(),
         "--metrics-address", "127.0.0.1", "--metrics-port", free_port()],
        env=env, ready_text="agent ready")
    return log


def write_token(tmp_path, pod):
    token_file = tmp_path / f"{pod}-token"
    token = mint_token(pod)
    token_file.write_text(token)
    return token_file, token


def assert_cli_used_pod_credentials(result, eks_auth, sts, token, pod):
    assert result.returncode == 0, result.stderr
    identity = json.loads(result.stdout)
    assert identity["Arn"].endswith("/session-of-ASIAPODIDE2ETEST0001")
    exchanges = read_records(eks_auth)
    assert [e["path"] for e in exchanges] == ["/clusters/eksdemo1/assume-role-for-pod-identity"]
    assert json.loads(exchanges[0]["body"]) == {"token": token}
    assert exchanges[0]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDNODEE2E/")
    assert "/us-west-2/eks-auth/aws4_request" in exchanges[0]["authorization"]
    assert exchanges[0]["signature"] == "valid"
    signed = read_records(sts)[-1]
    assert "Credential=ASIAPODIDE2ETEST0001/" in signed["authorization"]
    assert signed["security_token"] == f"session-token-for-{pod}"


def test_aws_cli_on_loopback(processes, tmp_path):
    uri, sts_port, eks_auth, sts = loopback_agent(processes)
    token_file, token = write_token(tmp_path, "aws-cli")
    env = pod_env(tmp_path, uri, token_file, sts_port)
    result = processes.run(["aws", "sts", "get-caller-identity", "--output", "json"], env)
    assert_cli_used_pod_credentials(result, eks_auth, sts, token, "aws-cli")


def test_boto3_on_loopback(processes, tmp_path):
    uri, sts_port, eks_auth, _ = loopback_agent(processes)
    token_file, _ = write_token(tmp_path, "boto3-app")
    env = pod_env(tmp_path, uri, token_file, sts_port)
    for _ in range(3):
        result = processes.run([sys.executable, "-c", BOTO3_CREDENTIALS], env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "key": "ASIAPODIDE2ETEST0001",
            "secret": "secret-for-boto3-app",
            "token": "session-token-for-boto3-app",
        }
    assert len(read_records(eks_auth)) == 1, "three processes, one exchange: the rest were hits"


def test_aws_cli_reports_the_refusal(processes, tmp_path):
    uri, sts_port, _, sts = loopback_agent(processes)
    token_file, _ = write_token(tmp_path, "denied-pod")
    env = pod_env(tmp_path, uri, token_file, sts_port)
    result = processes.run(["aws", "sts", "get-caller-identity"], env)
    assert result.returncode != 0
    assert "AccessDenied" in result.stderr, result.stderr
    assert "denied-pod may not assume the role" in result.stderr, result.stderr
    assert read_records(sts) == [], "no request was signed without credentials"


def test_aws_cli_with_an_expired_token(processes, tmp_path):
    uri, sts_port, eks_auth, _ = loopback_agent(processes)
    token_file = tmp_path / "expired-token"
    token_file.write_text(mint_token("aws-cli", lifetime=-60))
    env = pod_env(tmp_path, uri, token_file, sts_port)
    result = processes.run(["aws", "sts", "get-caller-identity"], env)
    assert result.returncode != 0
    assert "ExpiredToken" in result.stderr and "expired at" in result.stderr, result.stderr
    assert read_records(eks_auth) == []


def test_the_agent_signs_with_the_instance_role_from_imds(processes, tmp_path):
    """On an EC2 node without keys in its environment, the agent signs with the instance
    role's credentials from IMDSv2, in the region instance metadata tells."""
    eks_auth_port, sts_port, imds_port, agent_port = (free_port() for _ in range(4))
    eks_auth = processes.fake("eks-auth", eks_auth_port)
    sts = processes.fake("sts", sts_port)
    imds = processes.fake("imds", imds_port)
    env = {"PATH": os.environ["PATH"],
           "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{imds_port}/"}
    log = start_agent_with_env(processes, eks_auth_port, agent_port, env)
    assert "the instance role, from instance metadata" in log.read_text()

    uri = f"http://127.0.0.1:{agent_port}/v1/credentials"
    for pod in ["first-app", "second-app"]:
        token_file, _ = write_token(tmp_path, pod)
        result = processes.run(["aws", "sts", "get-caller-identity", "--output", "json"],
                               pod_env(tmp_path, uri, token_file, sts_port))
        assert result.returncode == 0, result.stderr
    exchanges = read_records(eks_auth)
    assert len(exchanges) == 2
    for exchange in exchanges:
        assert exchange["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIANODEIMDS/")
        assert "/eu-west-1/eks-auth/aws4_request" in exchange["authorization"]
        assert exchange["security_token"] == "imds-node-session"
        assert exchange["signature"] == "valid"
    assert read_records(sts)[-1]["security_token"] == "session-token-for-second-app"

    calls = read_records(imds)
    assert calls[0]["method"] == "PUT", "IMDSv2: a session token before anything else"
    assert all(call["token"] == "imds-session-token-e2e" for call in calls[1:])
    role_reads = [c for c in calls if c["path"].endswith("/security-credentials/eks-node-role")]
    assert len(role_reads) == 1, "the instance role's credentials were loaded once and kept"


def test_the_agent_signs_with_a_web_identity_role(processes, tmp_path):
    """With AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, as IAM roles for service accounts set
    them, the agent assumes the role with the token (an unsigned STS call) and signs with it."""
    eks_auth_port, sts_port, agent_port = free_port(), free_port(), free_port()
    eks_auth = processes.fake("eks-auth", eks_auth_port)
    sts = processes.fake("sts", sts_port)
    oidc_token = tmp_path / "agent-oidc-token"
    oidc_token.write_text("oidc-token-of-the-agent\n")
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-west-2",
           "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_WEB_IDENTITY_TOKEN_FILE": str(oidc_token),
           "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/podid-agent",
           "AWS_ROLE_SESSION_NAME": "node-1",
           "AWS_ENDPOINT_URL_STS": f"http://127.0.0.1:{sts_port}"}
    log = start_agent_with_env(processes, eks_auth_port, agent_port, env)
    assert "the role arn:aws:iam::111122223333:role/podid-agent, assumed with a web identity" \
        in log.read_text()

    token_file, _ = write_token(tmp_path, "webid-app")
    result = processes.run(["aws", "sts", "get-caller-identity", "--output", "json"],
                           pod_env(tmp_path, f"http://127.0.0.1:{agent_port}/v1/credentials",
                                   token_file, sts_port))
    assert result.returncode == 0, result.stderr

    assume = read_records(sts)[0]
    assert assume["authorization"] == "", "the web identity token is the credential"
    form = dict(urllib.parse.parse_qsl(assume["body"]))
    assert form == {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                    "RoleArn": "arn:aws:iam::111122223333:role/podid-agent",
                    "RoleSessionName": "node-1", "WebIdentityToken": "oidc-token-of-the-agent"}
    [exchange] = read_records(eks_auth)
    assert exchange["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIANODEWEBID/")
    assert exchange["security_token"] == "webid-node-session"
    assert exchange["signature"] == "valid"
