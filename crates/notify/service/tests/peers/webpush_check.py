"""Independent check of a Web Push request: decrypts the body with PyPI `http-ece`
(RFC 8188/8291, aes128gcm) using the subscription's private key and auth secret, and
verifies the VAPID JWT (RFC 8292) with PyJWT against the key in the Authorization header.

Input (stdin, JSON): {"body_b64", "ua_private_d_b64", "auth_b64", "authorization",
"origin"}. Output (stdout, JSON): {"plaintext", "claims", "k"}. Exit 1 on any failure."""
import base64
import json
import sys

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def main():
    req = json.load(sys.stdin)
    d = int.from_bytes(b64d(req["ua_private_d_b64"]), "big")
    private_key = ec.derive_private_key(d, ec.SECP256R1())
    plaintext = http_ece.decrypt(
        b64d(req["body_b64"]),
        private_key=private_key,
        auth_secret=b64d(req["auth_b64"]),
        version="aes128gcm",
    )
    scheme, _, params = req["authorization"].partition(" ")
    if scheme != "vapid":
        raise SystemExit("not a vapid Authorization header")
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(fields["k"]))
    claims = jwt.decode(
        fields["t"], key=public, algorithms=["ES256"], audience=req["origin"],
        options={"require": ["exp", "aud", "sub"]},
    )
    json.dump({"plaintext": plaintext.decode(), "claims": claims, "k": fields["k"]}, sys.stdout)


if __name__ == "__main__":
    main()
