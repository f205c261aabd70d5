"""Stand-ins for the AWS services around the agent, run as separate processes.

`eks-auth` answers AssumeRoleForPodIdentity for any token and refuses pods whose name starts
with `denied-`; `sts` answers GetCallerIdentity for whoever signed the request. Both append one
JSON line per request to the record file, so a test can check what the agent and the AWS CLI
really sent, even when the fake runs inside a network namespace.

Usage: python fakes.py eks-auth|sts --port PORT --record FILE
"""

import argparse
import base64
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "111122223333"
ROLE = "EKS-PodIdentity-S3-ReadOnly-Role-101"
ACCESS_KEY_ID = "ASIAPODIDE2ETEST0001"


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


def sts_answer(headers):
    access_key = re.search(r"Credential=([^/]+)/", headers.get("Authorization", ""))
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/session-of-{access_key.group(1)}"
    return (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AROAE2ETESTROLE00001:session</UserId>"
        f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
        "<ResponseMetadata><RequestId>e2e</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )


def handler_for(role, recorder):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            recorder.write({
                "path": self.path,
                "authorization": self.headers.get("Authorization", ""),
                "security_token": self.headers.get("X-Amz-Security-Token", ""),
                "body": body.decode("utf-8", "replace"),
            })
            if role == "eks-auth":
                status, answer, error_type = eks_auth_answer(self.path, body)
                payload, content_type = json.dumps(answer).encode(), "application/json"
            else:
                status, error_type = 200, None
                payload, content_type = sts_answer(self.headers).encode(), "text/xml"
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
    parser.add_argument("role", choices=["eks-auth", "sts"])
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
