// Verify a VC-JWT with an independent JOSE implementation.
// Usage: node verify.mjs <jwt-file> <jwks-file>; prints one JSON line.
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';

const jwt = readFileSync(process.argv[2], 'utf8').trim();
const jwks = JSON.parse(readFileSync(process.argv[3], 'utf8'));
try {
  const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(jwks), {
    algorithms: ['EdDSA'],
    typ: 'vc+jwt',
  });
  console.log(JSON.stringify({ ok: true, alg: protectedHeader.alg, iss: payload.iss, jti: payload.jti, type: payload.type }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code ?? String(e) }));
}
