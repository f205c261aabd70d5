"""`podid server` over TLS: the AWS CLI, boto3 and the agent trust it through a CA file."""

import json
import subprocess

import boto3

from conftest import PODID, Processes, free_port, pod_env, read_records
from control_plane import Moto, Server
from issuer import agent_claims, pod_claims
from tls_certs import make_certificates


def test_api_and_agent_over_https(tmp_path):
    ca, cert, key = make_certificates(tmp_path)
    moto = Moto(tmp_path)
    server = Server(tmp_path, sts_endpoint=moto.endpoint, iam_endpoint=moto.endpoint,
                    tls=(cert, key))
    server.start()
    processes = Processes(tmp_path)
    try:
        assert server.endpoint.startswith("https://")
        eks = boto3.client("eks", endpoint_url=server.endpoint, region_name="us-west-2",
                           aws_access_key_id="a", aws_secret_access_key="b", verify=str(ca))
        role = moto.create_role("TlsRole")
        eks.create_pod_identity_association(clusterName="eksdemo1", namespace="default",
                                            serviceAccount="aws-cli-sa", roleArn=role)

        untrusting = server.cli("list-pod-identity-associations", "--cluster-name", "eksdemo1")
        assert untrusting.returncode != 0 and "SSL" in untrusting.stderr

        node_token = tmp_path / "agent-token"
        node_token.write_text(server.issuers[0].sign(agent_claims()))
        agent_port = free_port()
        processes.agent(
            ["-c", "eksdemo1", "--endpoint", server.endpoint, "--node-token-file", node_token],
            ["-b", "127.0.0.1", "-p", agent_port, "--probe-port", free_port(),
             "--metrics-address", "127.0.0.1", "--metrics-port", free_port()],
            extra_env={"SSL_CERT_FILE": str(ca)})
        token_file = tmp_path / "pod-token"
        token_file.write_text(server.issuers[0].sign(pod_claims()))
        env = pod_env(tmp_path, f"http://127.0.0.1:{agent_port}/v1/credentials", token_file, 0)
        env["AWS_ENDPOINT_URL"] = moto.endpoint
        result = processes.run(["aws", "sts", "get-caller-identity", "--output", "json"], env)
        assert result.returncode == 0, result.stderr
        assert "assumed-role/TlsRole/eks-eksdemo1-aws-cli-" in json.loads(result.stdout)["Arn"]

        # Behind an HTTP proxy, the agent reaches the server through a CONNECT tunnel, with the
        # proxy credentials of HTTPS_PROXY; the TLS session is still with the server itself.
        proxy_port, proxied_port = free_port(), free_port()
        proxy = processes.fake("connect-proxy", proxy_port)
        proxy_url = f"http://node:proxy-secret@127.0.0.1:{proxy_port}"
        _, log = processes.agent(
            ["-c", "eksdemo1", "--endpoint", server.endpoint, "--node-token-file", node_token],
            ["-b", "127.0.0.1", "-p", proxied_port, "--probe-port", free_port(),
             "--metrics-address", "127.0.0.1", "--metrics-port", free_port()],
            extra_env={"SSL_CERT_FILE": str(ca), "HTTPS_PROXY": proxy_url})
        env = pod_env(tmp_path, f"http://127.0.0.1:{proxied_port}/v1/credentials", token_file, 0)
        env["AWS_ENDPOINT_URL"] = moto.endpoint
        result = processes.run(["aws", "sts", "get-caller-identity", "--output", "json"], env)
        assert result.returncode == 0, result.stderr
        tunnels = read_records(proxy)
        assert [t["target"] for t in tunnels] == [server.endpoint.removeprefix("https://")]
        assert tunnels[0]["proxy_authorization"] == "Basic bm9kZTpwcm94eS1zZWNyZXQ="
        assert "proxy-secret" not in log.read_text()
    finally:
        processes.stop_all()
        server.stop()
        moto.stop()


def test_a_bad_certificate_stops_the_start(tmp_path):
    _, cert, key = make_certificates(tmp_path)
    key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    server = Server(tmp_path, sts_endpoint="http://127.0.0.1:9", iam_endpoint="http://127.0.0.1:9",
                    tls=(cert, key))
    result = subprocess.run([PODID, "server", "--config", server.config], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 64, result.stderr
    assert "tls cert_file and key_file do not make a usable pair" in result.stderr
    assert not (tmp_path / "podid.db").exists(), "nothing started before the check"
