"""Stand-ins for the AWS services around the agent, run as separate processes.

`eks-auth` answers AssumeRoleForPodIdentity for any token and refuses pods whose name starts
with `denied-`; it checks each request's SigV4 signature with botocore's own signer and records
the verdict. `sts` answers GetCallerIdentity for whoever signed the request, and
AssumeRoleWithWebIdentity with the keys `ASIANODEWEBID`. `imds` is an EC2
instance metadata service speaking IMDSv2 only, whose instance role has the keys
`ASIANODEIMDS`. `connect-proxy` is an HTTP proxy that tunnels `CONNECT` requests. Each appends
one JSON line per request to the record file, so a test can check what the agent and the AWS CLI
really sent, even when the fake runs inside a network namespace.

Usage: python fakes.py eks-auth|sts|imds|connect-proxy --port PORT --record FILE
"""

import argparse
import base64
import json
import re
import select
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCOUNT = "111122223333"
ROLE = "EKS-PodIdentity-S3-ReadOnly-Role-101"
ACCESS_KEY_ID = "ASIAPODIDE2ETEST0001"

# The node keys the agent may sign with: from the environment, or the instance role's.
NODE_SECRETS = {"AKIDNODEE2E": "node-secret", "ASIANODEIMDS": "imds-node-secret",
                "ASIANODEWEBID": "webid-node-secret"}
IMDS_ROLE = "eks-node-role"
IMDS_REGION = "eu-west-1"
IMDS_TOKEN = "imds-session-token-e2e"
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})"
)


def claims_of(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


class Recorder:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, entry):
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


def eks_auth_answer(path, body):
    match = re.fullmatch(r"/clusters/([^/]+)/assume-role-for-pod-identity", path)
    if not match:
        return 404, {"message": f"no route for {path}"}, "ResourceNotFoundException"
    token = json.loads(body or b"{}").get("token", "")
    pod = claims_of(token)["kubernetes.io"]["pod"]["name"]
    if pod.startswith("denied-"):
        message = f"pod {pod} may not assume the role"
        return 400, {"message": message}, "AccessDeniedException"
    session = f"eks-{match.group(1)}-{pod}-5d0c6f1e-8f7b-4c59-9f1c"[:64]
    return 200, {
        "subject": {"namespace": "default", "serviceAccount": "aws-cli-sa"},
        "audience": "pods.eks.amazonaws.com",
        "podIdentityAssociation": {
            "associationArn": f"arn:aws:eks:us-west-2:{ACCOUNT}:podidentityassociation/"
            f"{match.group(1)}/a-e2etestassociat0",
            "associationId": "a-e2etestassociat0",
        },
        "assumedRoleUser": {
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{session}",
            "assumeRoleId": f"AROAE2ETESTROLE00001:{session}",
        },
        "credentials": {
            "sessionToken": f"session-token-for-{pod}",
            "secretAccessKey": f"secret-for-{pod}",
            "accessKeyId": ACCESS_KEY_ID,
            "expiration": int(time.time()) + 6 * 3600,
        },
    }, None


def signature_verdict(method, path, headers, body):
    """'valid' when botocore computes the same SigV4 signature for what arrived."""
    authorization = headers.get("Authorization")
    if not authorization:
        return "unsigned"
    match = AUTHORIZATION.fullmatch(authorization)
    if not match:
        return "malformed"
    key, region, service, signed_headers, signature = match.groups()
    if key not in NODE_SECRETS:
        return "unknown key"
    signed = {name: headers.get(name, "") for name in signed_headers.split(";")}
    request = AWSRequest(method=method, url=f"http://{headers['Host']}{path}", data=body,
                         headers=signed)
    request.context["timestamp"] = headers.get("X-Amz-Date", "")
    credentials = Credentials(key, NODE_SECRETS[key], headers.get("X-Amz-Security-Token"))
    signer = SigV4Auth(credentials, service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return "valid" if expected == signature else "invalid"


def imds_answer(method, path, headers):
    """(status, body) of IMDSv2: a session token first, then documents that present it."""
    if method == "PUT":
        if path != "/latest/api/token" or not headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return 400, ""
        return 200, IMDS_TOKEN
    if headers.get("X-aws-ec2-metadata-token") != IMDS_TOKEN:
        return 401, ""
    credentials_path = "/latest/meta-data/iam/security-credentials/"
    if path == credentials_path:
        return 200, IMDS_ROLE
    if path == credentials_path + IMDS_ROLE:
        expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600))
        return 200, json.dumps({
            "Code": "Success", "LastUpdated": "2026-01-01T00:00:00Z", "Type": "AWS-HMAC",
            "AccessKeyId": "ASIANODEIMDS", "SecretAccessKey": NODE_SECRETS["ASIANODEIMDS"],
            "Token": "imds-node-session", "Expiration": expiration,
        })
    if path == "/latest/meta-data/placement/region":
        return 200, IMDS_REGION
    return 404, ""


def sts_answer(headers, body):
    form = dict(urllib.parse.parse_qsl(body.decode()))
    if form.get("Action") == "AssumeRoleWithWebIdentity":
        expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return (
            '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<AssumeRoleWithWebIdentityResult><Credentials>"
            "<AccessKeyId>ASIANODEWEBID</AccessKeyId>"
            f"<SecretAccessKey>{NODE_SECRETS['ASIANODEWEBID']}</SecretAccessKey>"
            "<SessionToken>webid-node-session</SessionToken>"
            f"<Expiration>{expiration}</Expiration></Credentials>"
            "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
        )
    return caller_identity(headers)


def caller_identity(headers):
    access_key = re.search(r"Credential=([^/]+)/", headers.get("Authorization", ""))
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/session-of-{access_key.group(1)}"
    return (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AROAE2ETESTROLE00001:session</UserId>"
        f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
        "<ResponseMetadata><RequestId>e2e</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )


def relay(first, second):
    """Copies bytes both ways until either side closes."""
    sockets = [first, second]
    while True:
        readable, _, _ = select.select(sockets, [], [], 30)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (second if source is first else first).sendall(data)


def handler_for(role, recorder):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args):
            pass

        def do_CONNECT(self):
            recorder.write({"method": "CONNECT", "target": self.path,
                            "proxy_authorization": self.headers.get("Proxy-Authorization", "")})
            host, port = self.path.rsplit(":", 1)
            self.close_connection = True
            try:
                upstream = socket.create_connection((host, int(port)), timeout=5)
            except OSError:
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            with upstream:
                relay(self.connection, upstream)

        def do_imds(self):
            recorder.write({"method": self.command, "path": self.path,
                            "token": self.headers.get("X-aws-ec2-metadata-token", "")})
            status, text = imds_answer(self.command, self.path, self.headers)
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_imds

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            recorder.write({
                "path": self.path,
                "authorization": self.headers.get("Authorization", ""),
                "security_token": self.headers.get("X-Amz-Security-Token", ""),
                "signature": signature_verdict("POST", self.path, self.headers, body),
                "body": body.decode("utf-8", "replace"),
            })
            if role == "eks-auth":
                status, answer, error_type = eks_auth_answer(self.path, body)
                payload, content_type = json.dumps(answer).encode(), "application/json"
            else:
                status, error_type = 200, None
                payload, content_type = sts_answer(self.headers, body).encode(), "text/xml"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if error_type:
                self.send_header("X-Amzn-Errortype", error_type)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["eks-auth", "sts", "imds", "connect-proxy"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", required=True)
    args = parser.parse_args()
    handler = handler_for(args.role, Recorder(args.record))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print(f"{args.role} listening on 127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
