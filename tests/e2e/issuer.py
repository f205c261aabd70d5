"""A Kubernetes-like service-account token issuer, written with `cryptography`, independent of
podid's own: its tokens check that podid verifies what Kubernetes signs."""

import base64
import hashlib
import json
import time
import uuid

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ISSUER_URL = "https://oidc.e2e.podid.test/id/EKSDEMO1"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(value):
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


class Issuer:
    def __init__(self, kind="RSA", url=ISSUER_URL, key=None):
        self.url = url
        if key is not None:
            self.key = key
        elif kind == "RSA":
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.key = ec.generate_private_key(ec.SECP256R1())
        self.alg = "RS256" if isinstance(self.key, rsa.RSAPrivateKey) else "ES256"
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public_der = der
        self.kid = b64url(hashlib.sha256(der).digest())

    @classmethod
    def from_pem(cls, pem, url=ISSUER_URL):
        return cls(url=url, key=serialization.load_pem_private_key(pem, password=None))

    def private_pem(self):
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def jwk(self):
        numbers = self.key.public_key().public_numbers()
        if self.alg == "RS256":
            return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                    "n": b64url(int_bytes(numbers.n)), "e": b64url(int_bytes(numbers.e))}
        return {"kty": "EC", "use": "sig", "alg": "ES256", "kid": self.kid, "crv": "P-256",
                "x": b64url(numbers.x.to_bytes(32, "big")),
                "y": b64url(numbers.y.to_bytes(32, "big"))}

    def sign(self, claims, header=None):
        header = header or {"alg": self.alg, "kid": self.kid}
        signed = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        if self.alg == "RS256":
            signature = self.key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self.key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signed}.{b64url(signature)}"

    def hmac_with_public_key(self, claims):
        """The classic confusion attack: HS256 keyed with the published public key."""
        header = {"alg": "HS256", "kid": self.kid}
        signed = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        mac = hmac.HMAC(self.public_der, hashes.SHA256())
        mac.update(signed.encode())
        return f"{signed}.{b64url(mac.finalize())}"


def jwks(*issuers):
    return json.dumps({"keys": [issuer.jwk() for issuer in issuers]})


def pod_claims(pod="aws-cli", namespace="default", service_account="aws-cli-sa",
               node="node-1", audience="pods.eks.amazonaws.com", lifetime=3600,
               issuer=ISSUER_URL):
    now = int(time.time())
    return {
        "iss": issuer, "sub": f"system:serviceaccount:{namespace}:{service_account}",
        "aud": [audience], "iat": now, "nbf": now, "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": service_account, "uid": f"{service_account}-uid"},
            "pod": {"name": pod, "uid": f"{pod}-uid"},
            "node": {"name": node, "uid": f"{node}-uid"},
        },
    }


def agent_claims(node="node-1", service_account="podid-agent", namespace="kube-system"):
    return pod_claims(pod=f"podid-agent-{node}", namespace=namespace,
                      service_account=service_account, node=node, audience="podid",
                      lifetime=3600)
