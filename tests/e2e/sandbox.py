"""Running `podid sandbox up` for tests, and acting on it as its administrator and as its pods."""

import os
import random
import signal
import socket
import subprocess
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import PODID, VENV_BIN, wait_for_file_text

TUTORIAL_TRUST = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {
                "Service": "pods.eks.amazonaws.com"
            },
            "Action": [
                "sts:AssumeRole",
                "sts:TagSession"
            ]
        }
    ]
}
"""


def service_error_status():
    """The AWS CLI's exit status for an error answered by a service: 255 for the CLI v1 that
    PyPI has, 254 for the CLI v2 (which the tutorial shows)."""
    version = subprocess.run([VENV_BIN / "aws", "--version"], capture_output=True, text=True)
    return 255 if (version.stdout + version.stderr).startswith("aws-cli/1.") else 254


def free_port_block(count=8):
    """A base port whose next `count` ports are all free on 127.0.0.1."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise RuntimeError("no block of free ports")


def read_exports(path):
    """The variables of a file of `export NAME=value` lines."""
    exports = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            exports[name] = value
    return exports


class Sandbox:
    def __init__(self, workdir, netns=False, cluster="eksdemo1", extra_args=()):
        self.workdir = workdir
        self.data = workdir / "sandbox"
        self.netns = netns
        self.cluster = cluster
        self.extra_args = list(extra_args)
        self.port_base = free_port_block()
        self.log = workdir / "sandbox.log"
        self.process = None
        self.home = workdir / "admin-home"
        self.home.mkdir(exist_ok=True)

    def start(self):
        args = [PODID, "sandbox", "--data-dir", self.data, "up", "--cluster-name", self.cluster,
                "--port-base", str(self.port_base), *self.extra_args]
        if self.netns:
            args.append("--netns")
        logged_before = len(self.log.read_text()) if self.log.exists() else 0
        env = {"PATH": os.environ["PATH"], "HOME": str(self.home)}
        with open(self.log, "a", encoding="utf-8") as out:
            self.process = subprocess.Popen([str(a) for a in args], stdout=out,
                                            stderr=subprocess.STDOUT, env=env)
        wait_for_file_text(self.log, "sandbox up:", self.process, timeout=60,
                           after=logged_before)
        self.exports = read_exports(self.data / "env")
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)

    @property
    def endpoint(self):
        return self.exports["AWS_ENDPOINT_URL"]

    @property
    def account(self):
        return self.sts().get_caller_identity()["Account"]

    def admin_env(self, **overrides):
        env = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "HOME": str(self.home),
               "AWS_EC2_METADATA_DISABLED": "true", **self.exports}
        env.update(overrides)
        return env

    def aws(self, *args, env=None):
        """The AWS CLI as the administrator (or with `env`)."""
        return subprocess.run(["aws", *[str(a) for a in args]], env=env or self.admin_env(),
                              capture_output=True, text=True, timeout=120)

    def podid(self, *args, timeout=120):
        return subprocess.run([str(PODID), "sandbox", "--data-dir", str(self.data),
                               *[str(a) for a in args]], capture_output=True, text=True,
                              timeout=timeout, env={"PATH": f"{VENV_BIN}:{os.environ['PATH']}",
                                                    "HOME": str(self.home)})

    def exec(self, pod, *command, namespace="default"):
        return self.podid("exec", pod, "-n", namespace, "--", *command)

    def apply(self, path):
        result = self.podid("apply", "-f", path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def client(self, service, **credentials):
        keys = credentials or {
            "aws_access_key_id": self.exports["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": self.exports["AWS_SECRET_ACCESS_KEY"],
        }
        return boto3.client(service, endpoint_url=self.endpoint,
                            region_name=self.exports["AWS_REGION"],
                            config=Config(retries={"max_attempts": 1}), **keys)

    def iam(self, **credentials):
        return self.client("iam", **credentials)

    def sts(self, **credentials):
        return self.client("sts", **credentials)

    def s3(self, **credentials):
        return self.client("s3", **credentials)

    def role(self, name, trust=TUTORIAL_TRUST, policies=(), inline=None):
        """A role with `trust`, managed `policies` attached and an `inline` policy."""
        iam = self.iam()
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        for policy in policies:
            iam.attach_role_policy(RoleName=name, PolicyArn=policy)
        if inline:
            iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=inline)
        return arn

    def session(self, role_arn, name="test-session", tags=None, **extra):
        """Credentials of a session of `role_arn`, assumed by the administrator."""
        kwargs = {"RoleArn": role_arn, "RoleSessionName": name, **extra}
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
            kwargs["TransitiveTagKeys"] = list(tags)
        credentials = self.sts().assume_role(**kwargs)["Credentials"]
        return {"aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"]}

    def session_env(self, credentials):
        """The environment of an AWS CLI that uses `credentials`."""
        return self.admin_env(AWS_ACCESS_KEY_ID=credentials["aws_access_key_id"],
                              AWS_SECRET_ACCESS_KEY=credentials["aws_secret_access_key"],
                              AWS_SESSION_TOKEN=credentials["aws_session_token"])


def admin_trust(account):
    """A trust policy letting the account's principals (with permission) assume the role and
    tag the session."""
    return ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":'
            f'"arn:aws:iam::{account}:root"}},"Action":["sts:AssumeRole","sts:TagSession"]}}]}}')


def wait_until(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def module_sandbox(name):
    """A pytest fixture: one sandbox for all the tests of a module, stopped after the last."""
    @pytest.fixture(scope="module")
    def sandbox(tmp_path_factory):
        running = Sandbox(tmp_path_factory.mktemp(name)).start()
        yield running
        running.stop()
    return sandbox


def error_response(call):
    """The response of a boto3 call that must fail with a service error."""
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response


def error_of(call):
    """The `Error` part (Code, Message) of a boto3 call that must fail with a service error."""
    return error_response(call)["Error"]
