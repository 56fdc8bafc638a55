// Reference OIDC provider for bench/identity.sh: npm `oidc-provider` (v9), default in-memory
// adapter, one confidential client allowed the client_credentials grant.
// Usage: NODE_ENV=production node bench/identity/provider.mjs [port]
//
// Access tokens: client_credentials without a `resource` parameter get the default resource
// `urn:kreki:bench` (features.resourceIndicators.defaultResource), whose resource server asks
// for JWT access tokens signed RS256 with the RSA 2048 key generated below. oidc-provider
// refuses to introspect structured (JWT) tokens ("Structured JWT Tokens cannot be
// introspected via the introspection_endpoint") and does not store them, so the
// introspection benchmark asks for a token for the second resource `urn:kreki:bench:opaque`
// (explicit `resource` parameter), which is an opaque token kept in the in-memory adapter.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const port = Number(process.argv[2] || process.env.PORT || 18302);
const issuer = `http://127.0.0.1:${port}`;

const JWT_RESOURCE = 'urn:kreki:bench';
const OPAQUE_RESOURCE = 'urn:kreki:bench:opaque';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  alg: 'RS256',
  use: 'sig',
  kid: `bench-rs256-${randomBytes(4).toString('hex')}`,
};

const configuration = {
  clients: [
    {
      client_id: 'bench-client',
      client_secret: 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: ['bench'],
  // Only used by the (unused here) interaction cookies; set so production mode does not warn.
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => JWT_RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator === JWT_RESOURCE) {
          return { scope: 'bench', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        }
        if (resourceIndicator === OPAQUE_RESOURCE) {
          return { scope: 'bench', accessTokenFormat: 'opaque' };
        }
        throw new errors.InvalidTarget();
      },
    },
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  console.error(`oidc-provider ${issuer} listening (pid ${process.pid}, NODE_ENV=${process.env.NODE_ENV})`);
});
// Keep idle keep-alive connections of the load generator open between runs.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
