"""The agent at its production addresses, inside a network namespace, after `agent init`."""

import json
import sys

from conftest import PODID, mint_token, pod_env, read_records

EKS_AUTH_PORT, STS_PORT = 8443, 8444


def test_init_without_dummy_support_names_the_fix(netns_processes):
    result = netns_processes.run([PODID, "agent", "init"], env=None)
    if result.returncode == 0:
        assert "created link pod-id-link0" in result.stdout
    else:
        assert result.returncode == 1
        assert "no `dummy` link type" in result.stderr and "--link" in result.stderr


def test_init_is_idempotent_and_puts_both_addresses_on_the_link(netns_processes):
    for _ in range(2):
        result = netns_processes.run([PODID, "agent", "init", "--link", "lo"], env=None)
        assert result.returncode == 0, result.stderr
        assert "used existing link lo" in result.stdout
    addresses = netns_processes.run(["ip", "-o", "addr", "show", "dev", "lo"], env=None).stdout
    assert "169.254.170.23/32" in addresses
    assert "fd00:ec2::23/128" in addresses
    result = netns_processes.run([PODID, "agent", "init", "--link", "nosuchlink0"], env=None)
    assert result.returncode == 1
    assert "no link named nosuchlink0" in result.stderr


def test_cli_and_boto3_at_the_production_uris(netns_processes, tmp_path):
    run = netns_processes
    assert run.run([PODID, "agent", "init", "--link", "lo"], env=None).returncode == 0
    eks_auth = run.fake("eks-auth", EKS_AUTH_PORT)
    sts = run.fake("sts", STS_PORT)
    _, log = run.agent(["-c", "eksdemo1", "--endpoint", f"http://127.0.0.1:{EKS_AUTH_PORT}"], [])
    assert "169.254.170.23:80" in log.read_text() and "[fd00:ec2::23]:80" in log.read_text()

    token_file = tmp_path / "token"
    token = mint_token("aws-cli")
    token_file.write_text(token)
    env = pod_env(tmp_path, "http://169.254.170.23/v1/credentials", token_file, STS_PORT)
    result = run.run(["aws", "sts", "get-caller-identity", "--output", "json"], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Account"] == "111122223333"
    assert "Credential=ASIAPODIDE2ETEST0001/" in read_records(sts)[-1]["authorization"]

    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://[fd00:ec2::23]/v1/credentials"
    script = "import boto3; print(boto3.Session().get_credentials().get_frozen_credentials().token)"
    result = run.run([sys.executable, "-c", script], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "session-token-for-aws-cli"
    assert len(read_records(eks_auth)) == 1, "the IPv6 request was a cache hit"
    assert json.loads(read_records(eks_auth)[0]["body"])["token"] == token


def test_agent_skips_ipv6_when_the_node_has_none(netns_processes, tmp_path):
    run = netns_processes
    run.run(["sysctl", "-w", "net.ipv6.conf.all.disable_ipv6=1"], env=None)
    run.run(["sysctl", "-w", "net.ipv6.conf.lo.disable_ipv6=1"], env=None)
    result = run.run([PODID, "agent", "init", "--link", "lo"], env=None)
    assert result.returncode == 0, result.stderr
    assert "warning: IPv6 was not set up" in result.stdout
    run.fake("eks-auth", EKS_AUTH_PORT)
    _, log = run.agent(["-c", "eksdemo1", "--endpoint", f"http://127.0.0.1:{EKS_AUTH_PORT}"], [])
    text = log.read_text()
    assert "skipping an IPv6 credential address" in text, text
    assert "serving pod credentials" in text and "169.254.170.23:80" in text
