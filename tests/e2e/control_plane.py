"""Running `podid server` for tests, with moto as an independent AWS (IAM and STS) behind a
proxy that records what podid asks STS for."""

import json
import os
import signal
import subprocess
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import threading

import boto3

from conftest import PODID, VENV_BIN, free_port, wait_for_file_text
from issuer import ISSUER_URL, Issuer, jwks

MOTO_ACCOUNT = "123456789012"
TUTORIAL_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                   "Action": ["sts:AssumeRole", "sts:TagSession"]}],
}
ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
         "region_name": "us-east-1"}


class Moto:
    def __init__(self, workdir):
        self.port = free_port()
        self.log = workdir / "moto.log"
        with open(self.log, "w", encoding="utf-8") as out:
            self.process = subprocess.Popen(
                [VENV_BIN / "moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT)
        wait_for_file_text(self.log, "Running on", self.process)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, **ADMIN)

    def create_role(self, name, trust=None):
        role = self.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(trust or TUTORIAL_TRUST))
        return role["Role"]["Arn"]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class RecordingProxy:
    """Forwards to `upstream` and keeps each request's form fields."""

    def __init__(self, upstream):
        self.requests = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.requests.append(dict(urllib.parse.parse_qsl(body.decode())))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length")}
                forwarded = urllib.request.Request(upstream + self.path, data=body,
                                                   headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(forwarded) as answer:
                        status, payload = answer.status, answer.read()
                        content_type = answer.headers.get("Content-Type", "text/xml")
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                    content_type = error.headers.get("Content-Type", "text/xml")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def assume_role_calls(self):
        return [r for r in self.requests if r.get("Action") == "AssumeRole"]

    def stop(self):
        self.server.shutdown()


def session_tags(call):
    """The tags and transitive keys of one recorded AssumeRole."""
    tags, transitive = {}, set()
    for index in range(1, 51):
        key = call.get(f"Tags.member.{index}.Key")
        if key:
            tags[key] = call[f"Tags.member.{index}.Value"]
        transitive_key = call.get(f"TransitiveTagKeys.member.{index}")
        if transitive_key:
            transitive.add(transitive_key)
    return tags, transitive


class Server:
    def __init__(self, workdir, max_associations=5000, sts_endpoint=None, iam_endpoint=None,
                 issuers=None, tls=None):
        self.workdir = workdir
        self.port, self.ops_port = free_port(), free_port()
        self.issuers = issuers or [Issuer()]
        self.jwks_file = workdir / "jwks.json"
        self.jwks_file.write_text(jwks(*self.issuers))
        aws = ""
        if sts_endpoint:
            aws = (f'[aws]\nregion = "us-east-1"\nsts_endpoint = "{sts_endpoint}"\n'
                   f'iam_endpoint = "{iam_endpoint}"\n')
        self.scheme = "https" if tls else "http"
        if tls:
            aws = f'[tls]\ncert_file = "{tls[0]}"\nkey_file = "{tls[1]}"\n' + aws
        self.config = workdir / "server.toml"
        self.config.write_text(
            f'listen = "127.0.0.1:{self.port}"\n'
            f'ops_listen = "127.0.0.1:{self.ops_port}"\n'
            f'store = "{workdir / "podid.db"}"\n'
            f"max_associations_per_cluster = {max_associations}\n"
            f'[[cluster]]\nname = "eksdemo1"\naccount = "{MOTO_ACCOUNT}"\n'
            f'region = "us-west-2"\nissuer = "{ISSUER_URL}"\njwks_file = "{self.jwks_file}"\n'
            f'[[cluster]]\nname = "other"\naccount = "444455556666"\nregion = "eu-west-1"\n'
            f'issuer = "{ISSUER_URL}/other"\njwks_file = "{self.jwks_file}"\n' + aws
        )
        self.process = None
        self.log = workdir / "server.log"

    @property
    def endpoint(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self):
        env = {"PATH": os.environ["PATH"], **{k.upper(): v for k, v in ADMIN.items()
               if k != "region_name"}, "AWS_EC2_METADATA_DISABLED": "true"}
        # The log is appended to across restarts: only what this start writes counts.
        logged_before = len(self.log.read_text()) if self.log.exists() else 0
        with open(self.log, "a", encoding="utf-8") as out:
            self.process = subprocess.Popen([PODID, "server", "--config", self.config],
                                            stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_for_file_text(self.log, "serving the EKS pod identity API", self.process,
                           after=logged_before)

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)

    def eks(self):
        return boto3.client("eks", endpoint_url=self.endpoint, region_name="us-west-2",
                            aws_access_key_id="AKIDADMIN", aws_secret_access_key="admin-secret")

    def eks_auth(self, node_token=None):
        client = boto3.client("eks-auth", endpoint_url=self.endpoint, region_name="us-west-2",
                              aws_access_key_id="AKIDNODE", aws_secret_access_key="node-secret")
        if node_token:
            def present(request, **_kwargs):
                request.headers["x-podid-node-token"] = node_token
            client.meta.events.register("before-sign.eks-auth.*", present)
        return client

    def cli(self, *args):
        env = {
            "PATH": os.environ["PATH"], "HOME": str(self.workdir),
            "AWS_ACCESS_KEY_ID": "AKIDADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret",
            "AWS_DEFAULT_REGION": "us-west-2", "AWS_ENDPOINT_URL_EKS": self.endpoint,
        }
        return subprocess.run(["aws", "eks", *args, "--output", "json"], env=env,
                              capture_output=True, text=True, timeout=60)

    def metrics(self):
        url = f"http://127.0.0.1:{self.ops_port}/metrics"
        with urllib.request.urlopen(url) as answer:
            return answer.read().decode()
