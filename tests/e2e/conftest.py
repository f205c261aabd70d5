"""Shared helpers: the podid binary, the fake AWS services, tokens, and network namespaces."""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PODID = Path(os.environ.get("PODID_BIN", REPO / "target" / "debug" / "podid"))
FAKES = Path(__file__).with_name("fakes.py")
VENV_BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(pod, lifetime=86400, **overrides):
    """A pod-bound token shaped like the kubelet's; the agent never checks its signature."""
    now = int(time.time())
    claims = {
        "iss": "https://issuer.e2e.test",
        "sub": "system:serviceaccount:default:aws-cli-sa",
        "aud": ["pods.eks.amazonaws.com"],
        "iat": now, "nbf": now, "exp": now + lifetime, "jti": str(uuid.uuid4()),
        "kubernetes.io": {
            "namespace": "default",
            "serviceaccount": {"name": "aws-cli-sa", "uid": "sa-uid"},
            "pod": {"name": pod, "uid": f"{pod}-uid"},
            "node": {"name": "node-1", "uid": "node-uid"},
        },
    }
    claims.update(overrides)
    header = b64url(json.dumps({"alg": "RS256", "kid": "e2e"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.{b64url(os.urandom(256))}"


def read_records(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_for_file_text(path, text, process, timeout=20.0, after=0):
    """Waits until `text` appears in the file past its first `after` characters."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text()[after:]:
            return
        if process.poll() is not None:
            raise AssertionError(f"process exited {process.returncode}:\n{path.read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}:\n{path.read_text()}")


class Processes:
    """Starts processes for one test and stops them all at its end."""

    def __init__(self, workdir, netns=None):
        self.workdir = workdir
        self.netns = netns
        self.started = []

    def command(self, argv):
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return prefix + [str(a) for a in argv]

    def start(self, name, argv, env=None, ready_text=None):
        log = self.workdir / f"{name}.log"
        with open(log, "w", encoding="utf-8") as out:
            process = subprocess.Popen(
                self.command(argv), stdout=out, stderr=subprocess.STDOUT, env=env,
            )
        self.started.append(process)
        if ready_text:
            wait_for_file_text(log, ready_text, process)
        return process, log

    def run(self, argv, env, timeout=60):
        return subprocess.run(
            self.command(argv), env=env, capture_output=True, text=True, timeout=timeout,
        )

    def fake(self, role, port):
        record = self.workdir / f"{role}.jsonl"
        self.start(role, [sys.executable, FAKES, role, "--port", port, "--record", record],
                   ready_text="listening")
        return record

    def agent(self, args, port_args, extra_env=None):
        env = {
            "PATH": os.environ["PATH"],
            "AWS_ACCESS_KEY_ID": "AKIDNODEE2E",
            "AWS_SECRET_ACCESS_KEY": "node-secret",
            "AWS_REGION": "us-west-2",
            "AWS_EC2_METADATA_DISABLED": "true",
            **(extra_env or {}),
        }
        process, log = self.start("agent", [PODID, "agent", *args, *port_args], env=env,
                                  ready_text="agent ready")
        return process, log

    def stop_all(self):
        for process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


def pod_env(home, credentials_uri, token_file, sts_port):
    """What the pod mutation gives a container, and nothing of the host's AWS set-up."""
    return {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "HOME": str(home),
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": credentials_uri,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{sts_port}",
        "AWS_REGION": "us-west-2",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture
def processes(tmp_path):
    running = Processes(tmp_path)
    yield running
    running.stop_all()


@pytest.fixture
def netns_processes(tmp_path):
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2")
    name = f"podid-e2e-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    running = Processes(tmp_path, netns=name)
    yield running
    running.stop_all()
    subprocess.run(["ip", "netns", "delete", name], check=False)
