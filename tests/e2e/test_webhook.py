"""The admission webhook over HTTPS: AdmissionReviews of real pods in, JSON Patches out, applied
with the independent `jsonpatch` package to check the pod the API server would store."""

import base64
import copy
import json
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid

import boto3
import jsonpatch
import pytest

from conftest import PODID
from control_plane import Server
from tls_certs import make_certificates

ROLE = "arn:aws:iam::123456789012:role/webhook-e2e"
URI_V4 = "http://169.254.170.23/v1/credentials"
URI_V6 = "http://[fd00:ec2::23]/v1/credentials"
TOKEN_DIR = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
TOKEN_FILE = f"{TOKEN_DIR}/eks-pod-identity-token"
MOUNT = {"name": "eks-pod-identity-token", "mountPath": TOKEN_DIR, "readOnly": True}


def variables(uri=URI_V4):
    return [{"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": uri},
            {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "value": TOKEN_FILE}]


def token_volume(expiration=86400):
    return {"name": "eks-pod-identity-token", "projected": {
        "defaultMode": 420,
        "sources": [{"serviceAccountToken": {
            "audience": "pods.eks.amazonaws.com", "expirationSeconds": expiration,
            "path": "eks-pod-identity-token"}}]}}


class Webhook:
    """A TLS podid server, an EKS client for its associations, and a way to send reviews."""

    def __init__(self, workdir):
        ca, cert, key = make_certificates(workdir)
        self.server = Server(workdir, tls=(cert, key))
        config = self.server.config.read_text()
        self.server.config.write_text(
            config.replace('name = "other"\n', 'name = "other"\nip_family = "ipv6"\n'))
        self.server.start()
        self.tls = ssl.create_default_context(cafile=str(ca))
        self.eks = boto3.client("eks", endpoint_url=self.server.endpoint, region_name="us-west-2",
                                aws_access_key_id="a", aws_secret_access_key="b", verify=str(ca))

    def post(self, path, body):
        request = urllib.request.Request(self.server.endpoint + path, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self.tls, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def review(self, pod, namespace="shop", cluster="eksdemo1", suffix="", **request):
        """Sends the CREATE of `pod`; answers the HTTP status and the review's response."""
        document = admission_review(pod, namespace, **request)
        status, answer = self.post(f"/admission/{cluster}/pods{suffix}",
                                   json.dumps(document).encode())
        assert answer["apiVersion"] == "admission.k8s.io/v1"
        assert answer["kind"] == "AdmissionReview"
        assert answer["response"]["uid"] == document["request"]["uid"]
        return status, answer["response"]

    def admitted(self, pod, **kwargs):
        """The pod as the API server would store it after the webhook."""
        status, response = self.review(pod, **kwargs)
        assert status == 200 and response["allowed"] is True, response
        if "patch" not in response:
            assert "patchType" not in response
            return pod
        assert response["patchType"] == "JSONPatch"
        patch = jsonpatch.JsonPatch(json.loads(base64.b64decode(response["patch"])))
        return patch.apply(copy.deepcopy(pod))

    def associate(self, namespace, service_account, cluster="eksdemo1"):
        created = self.eks.create_pod_identity_association(
            clusterName=cluster, namespace=namespace, serviceAccount=service_account,
            roleArn=ROLE)
        return created["association"]["associationId"]


def admission_review(pod, namespace, **request):
    body = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": namespace,
        "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                     "groups": ["system:serviceaccounts", "system:authenticated"]},
        "object": pod,
        "oldObject": None,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    body.update(request)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": body}


def deployment_pod(service_account="web", annotations=None):
    """A pod as a Deployment's ReplicaSet creates it: init container, app, sidecar, the
    service-account token volume the API server already added, existing env and mounts."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-7d4b9c6f8d-",
            "labels": {"app": "web", "pod-template-hash": "7d4b9c6f8d"},
            "annotations": annotations or {},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "web-7d4b9c6f8d", "uid": "4c1e0f0e", "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": {
            "serviceAccountName": service_account,
            "initContainers": [{"name": "migrate", "image": "web:1.4", "command": ["migrate"]}],
            "containers": [
                {
                    "name": "web",
                    "image": "web:1.4",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "env": [{"name": "LOG_LEVEL", "value": "info"},
                            {"name": "POD_NAME",
                             "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "volumeMounts": [{
                        "name": "kube-api-access-x7k2p", "readOnly": True,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                },
                {"name": "log-router", "image": "fluent-bit:3.0",
                 "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": True,
                                   "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]},
            ],
            "volumes": [{"name": "kube-api-access-x7k2p", "projected": {
                "defaultMode": 420,
                "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt",
                                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
        },
    }


def bare_pod(service_account="web"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare"},
            "spec": {"serviceAccountName": service_account,
                     "containers": [{"name": "app", "image": "busybox"}]}}


@pytest.fixture(scope="module")
def webhook(tmp_path_factory):
    running = Webhook(tmp_path_factory.mktemp("webhook"))
    running.associate("shop", "web")
    yield running
    running.server.stop()


# === mutation ===

def test_a_deployment_pod_is_wired_to_the_agent(webhook):
    pod = deployment_pod()
    patched = webhook.admitted(pod)

    web, router = patched["spec"]["containers"]
    assert web["env"] == pod["spec"]["containers"][0]["env"] + variables()
    assert web["volumeMounts"] == pod["spec"]["containers"][0]["volumeMounts"] + [MOUNT]
    assert router["env"] == variables()
    assert router["volumeMounts"] == pod["spec"]["containers"][1]["volumeMounts"] + [MOUNT]
    migrate = patched["spec"]["initContainers"][0]
    assert migrate == {**pod["spec"]["initContainers"][0], "env": variables(),
                       "volumeMounts": [MOUNT]}
    assert patched["spec"]["volumes"] == pod["spec"]["volumes"] + [token_volume()]
    untouched = {key: value for key, value in patched["spec"].items()
                 if key not in ("containers", "initContainers", "volumes")}
    assert untouched == {k: v for k, v in pod["spec"].items()
                         if k not in ("containers", "initContainers", "volumes")}
    assert patched["metadata"] == pod["metadata"]


def test_containers_that_set_the_variables_are_left_alone(webhook):
    pod = deployment_pod()
    own = [{"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": "http://127.0.0.1:9/creds"}]
    pod["spec"]["containers"][1]["env"] = own
    patched = webhook.admitted(pod)
    assert patched["spec"]["containers"][1] == pod["spec"]["containers"][1]
    assert patched["spec"]["containers"][0]["env"][-2:] == variables()


def test_a_pod_that_already_has_the_volume_keeps_it(webhook):
    pod = deployment_pod()
    own_volume = {"name": "eks-pod-identity-token", "projected": {"sources": [
        {"serviceAccountToken": {"audience": "pods.eks.amazonaws.com",
                                 "expirationSeconds": 3600, "path": "eks-pod-identity-token"}}]}}
    pod["spec"]["volumes"].append(own_volume)
    pod["spec"]["containers"][1]["volumeMounts"].append(dict(MOUNT))
    patched = webhook.admitted(pod)
    assert patched["spec"]["volumes"] == pod["spec"]["volumes"]
    assert patched["spec"]["containers"][1]["volumeMounts"] == \
        pod["spec"]["containers"][1]["volumeMounts"]
    assert patched["spec"]["containers"][1]["env"] == variables()

    again = webhook.admitted(patched)
    assert again == patched, "a wired pod needs nothing more"


def test_skip_containers_and_token_expiration(webhook):
    pod = deployment_pod(annotations={"eks.amazonaws.com/skip-containers": "log-router, migrate",
                                      "eks.amazonaws.com/token-expiration": "7200"})
    patched = webhook.admitted(pod)
    assert patched["spec"]["containers"][1] == pod["spec"]["containers"][1]
    assert patched["spec"]["initContainers"] == pod["spec"]["initContainers"]
    assert patched["spec"]["containers"][0]["env"][-2:] == variables()
    assert patched["spec"]["volumes"][-1] == token_volume(7200)

    short = webhook.admitted(deployment_pod(
        annotations={"eks.amazonaws.com/token-expiration": "60"}))
    assert short["spec"]["volumes"][-1] == token_volume(600)
    unreadable = webhook.admitted(deployment_pod(
        annotations={"eks.amazonaws.com/token-expiration": "2h"}))
    assert unreadable["spec"]["volumes"][-1] == token_volume(86400)

    everything = webhook.admitted(deployment_pod(
        annotations={"eks.amazonaws.com/skip-containers": "web,log-router,migrate"}))
    assert everything == deployment_pod(
        annotations={"eks.amazonaws.com/skip-containers": "web,log-router,migrate"})


def test_ipv6_clusters_get_the_ipv6_address(webhook):
    webhook.associate("shop", "web", cluster="other")
    patched = webhook.admitted(bare_pod(), cluster="other")
    assert patched["spec"]["containers"][0]["env"] == variables(URI_V6)
    assert patched["spec"]["containers"][0]["volumeMounts"] == [MOUNT]
    assert patched["spec"]["volumes"] == [token_volume()]


# === modes ===

def test_eks_mode_injects_only_with_an_association_at_admission(webhook):
    pod = bare_pod("late")
    assert webhook.admitted(pod) == pod
    assert webhook.admitted(pod, suffix="?mode=eks") == pod

    association_id = webhook.associate("shop", "late")
    assert webhook.admitted(pod)["spec"]["containers"][0]["env"] == variables()
    assert webhook.admitted(pod, namespace="other-team") == pod, "the review's namespace counts"

    webhook.eks.delete_pod_identity_association(clusterName="eksdemo1",
                                                associationId=association_id)
    assert webhook.admitted(pod) == pod


def test_the_default_service_account_is_looked_up(webhook):
    pod = bare_pod()
    del pod["spec"]["serviceAccountName"]
    assert webhook.admitted(pod, namespace="batch") == pod
    webhook.associate("batch", "default")
    assert webhook.admitted(pod, namespace="batch")["spec"]["volumes"] == [token_volume()]


def test_always_mode_injects_into_every_pod(webhook):
    pod = bare_pod("never-associated")
    # The API server adds `timeout` to the configured URL, which names the mode in its path.
    for suffix in ("/always?timeout=10s", "?mode=always"):
        patched = webhook.admitted(pod, suffix=suffix)
        assert patched["spec"]["containers"][0]["env"] == variables(), suffix
        assert patched["spec"]["volumes"] == [token_volume()], suffix
    assert webhook.admitted(pod, suffix="/eks?timeout=10s") == pod


def test_only_pod_creation_is_mutated(webhook):
    pod = deployment_pod()
    status, response = webhook.review(pod, operation="UPDATE", oldObject=pod)
    assert (status, response["allowed"]) == (200, True)
    assert "patch" not in response
    status, response = webhook.review(pod, subResource="status")
    assert (status, response["allowed"]) == (200, True) and "patch" not in response


# === refusals ===

def review_bytes(**changes):
    document = admission_review(bare_pod(), "shop")
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return json.dumps(document).encode()


def without_uid():
    document = admission_review(bare_pod(), "shop")
    del document["request"]["uid"]
    return json.dumps(document).encode()


@pytest.mark.parametrize("path, body, status, message", [
    ("/admission/eksdemo1/pods", b"not json", 400,
     "the body is not JSON: expected ident at line 1 column 2"),
    ("/admission/eksdemo1/pods", review_bytes(apiVersion="admission.k8s.io/v1beta1"), 400,
     'apiVersion must be "admission.k8s.io/v1", not "admission.k8s.io/v1beta1"'),
    ("/admission/eksdemo1/pods", review_bytes(kind="ConversionReview"), 400,
     'kind must be "AdmissionReview", not "ConversionReview"'),
    ("/admission/eksdemo1/pods", review_bytes(request=None), 400, "request is missing"),
    ("/admission/eksdemo1/pods", without_uid(), 400, "request.uid is missing"),
    ("/admission/eksdemo1/pods?mode=sometimes", review_bytes(), 400,
     'unknown mode "sometimes": use eks or always'),
    ("/admission/eksdemo1/pods/never", review_bytes(), 400,
     'unknown mode "never": use eks or always'),
    ("/admission/eksdemo1/pods/eks?mode=always", review_bytes(), 400,
     'the path asks for mode "eks" but the query for "always"'),
    ("/admission/nope/pods", review_bytes(), 404, 'no cluster named "nope" is configured'),
    ("/admission/eksdemo1/pods", b" " * (64 * 1024 + 1), 413,
     "the request body was refused: request body exceeds 65536 bytes"),
])
def test_malformed_reviews_are_refused_with_a_status(webhook, path, body, status, message):
    answered, review = webhook.post(path, body)
    assert answered == status
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert review["kind"] == "AdmissionReview"
    assert review["response"]["allowed"] is False
    assert review["response"]["status"] == {"code": status, "message": message}


def test_an_object_that_is_not_a_pod_is_denied(webhook):
    pod = bare_pod()
    pod["spec"]["containers"] = [{"image": "busybox"}]
    status, response = webhook.review(pod)
    assert status == 200
    assert response["allowed"] is False
    assert response["status"] == {
        "code": 400,
        "message": "request.object is not a valid pod: spec.containers[0].name is missing"}


def test_answers_are_counted_by_outcome(webhook):
    webhook.admitted(bare_pod("metrics"), suffix="?mode=always")
    metrics = webhook.server.metrics()
    assert "# TYPE podid_server_webhook_answers counter" in metrics
    patched = [line for line in metrics.splitlines()
               if line.startswith('podid_server_webhook_answers_total{outcome="patched"}')]
    assert len(patched) == 1 and int(float(patched[0].split()[-1])) >= 1


# === configuration ===

def test_a_bad_ip_family_stops_the_start(tmp_path):
    server = Server(tmp_path)
    server.config.write_text(server.config.read_text().replace(
        'name = "other"\n', 'name = "other"\nip_family = "ipv5"\n'))
    result = subprocess.run([PODID, "server", "--config", server.config], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 64, result.stderr
    assert "unknown variant `ipv5`, expected `ipv4` or `ipv6`" in result.stderr
