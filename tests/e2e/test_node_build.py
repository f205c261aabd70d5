"""The binary a node runs (`scripts/build-node`: the agent alone, linked statically), in a
network namespace whose resolver is the test's DNS server: it finds EKS Auth by name, as a node
finds eks-auth.<region>.api.aws, although it loads none of glibc's shared libraries."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import mint_token, read_records

NODE_PODID = os.environ.get("PODID_NODE_BIN")
DNS_SERVER = Path(__file__).with_name("dns_server.py")
EKS_AUTH_NAME = "eks-auth.us-west-2.podid.test"
EKS_AUTH_PORT, AGENT_PORT = 8443, 8080


@pytest.fixture
def resolving_netns(netns_processes):
    """The namespace, with /etc/resolv.conf naming 127.0.0.1 inside it (`ip netns exec`
    mounts /etc/netns/NAME/resolv.conf over it)."""
    directory = Path("/etc/netns") / netns_processes.netns
    directory.mkdir(parents=True)
    (directory / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    yield netns_processes
    shutil.rmtree(directory)


def test_the_static_node_binary_finds_eks_auth_through_dns(resolving_netns):
    if not NODE_PODID:
        pytest.skip("PODID_NODE_BIN is not set: scripts/test builds the node binary and sets it")
    linkage = subprocess.run(["ldd", NODE_PODID], capture_output=True, text=True)
    assert "statically linked" in linkage.stdout + linkage.stderr, linkage

    run = resolving_netns
    _, dns_log = run.start("dns", [sys.executable, DNS_SERVER, EKS_AUTH_NAME],
                           ready_text="dns ready")
    eks_auth = run.fake("eks-auth", EKS_AUTH_PORT)
    env = {"AWS_ACCESS_KEY_ID": "AKIDNODEE2E", "AWS_SECRET_ACCESS_KEY": "node-secret",
           "AWS_REGION": "us-west-2", "AWS_EC2_METADATA_DISABLED": "true"}
    run.start("agent", [NODE_PODID, "agent", "-c", "eksdemo1", "--endpoint",
                        f"http://{EKS_AUTH_NAME}:{EKS_AUTH_PORT}", "-b", "127.0.0.1",
                        "-p", AGENT_PORT, "--probe-port", 8081, "--metrics-address",
                        "127.0.0.1", "--metrics-port", 8082],
              env=env, ready_text="agent ready")

    token = mint_token("dns-pod")
    fetch = ("import sys, urllib.request; request = urllib.request.Request("
             f"'http://127.0.0.1:{AGENT_PORT}/v1/credentials', "
             "headers={'Authorization': sys.argv[1]}); "
             "print(urllib.request.urlopen(request).read().decode())")
    result = run.run([sys.executable, "-c", fetch, token], env=None)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Token"] == "session-token-for-dns-pod"
    assert f"query {EKS_AUTH_NAME} type 1" in dns_log.read_text()
    [exchange] = read_records(eks_auth)
    assert exchange["signature"] == "valid"
