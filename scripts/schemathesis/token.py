"""Sign in a demo account through KREKI ID's JSON API (password, then TOTP) and print its
access token. The TOTP code is computed here (RFC 6238, SHA-1, 30 s, 6 digits) from the demo
account's published seed, so no browser is needed."""
import base64, hashlib, hmac, json, struct, sys, time, urllib.request

def totp(seed_b32: str, at: float) -> str:
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000)

def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)["data"]

def main() -> None:
    base, identifier, password, seed = sys.argv[1:5]
    data = post(f"{base}/api/auth/v1/login", {"identifier": identifier, "password": password})
    if data.get("mfaRequired"):
        data = post(f"{base}/api/auth/v1/login/mfa", {"mfaToken": data["mfaToken"], "code": totp(seed, time.time())})
    token = data.get("accessToken")
    if not token:
        sys.exit(f"no access token in the answer for {identifier}")
    print(token)

main()
