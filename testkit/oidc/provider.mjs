// A real OpenID provider for sendjay's single sign-on tests: panva's certified `oidc-provider`, started by
// testkit/src/oidc.rs on a loopback port. Not for production: the accounts are made up.
//
//   node provider.mjs <port>
//
// Environment: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (space-separated) for the one client.
//
// * The built-in development login form (devInteractions) accepts any account id with any password, so a test
//   can sign in as `alice` (a sendjay user) or as `mallory` (an id sendjay does not know) alike.
// * PKCE is required for the client, as a company IdP should require it.
// * `openid profile` is offered; `preferred_username` is the account id. The ID token carries the profile
//   claims (conformIdTokenClaims off, as Keycloak and Entra ID do), so the router needs no userinfo call.
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.OIDC_PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node provider.mjs <port>  (or OIDC_PORT=<port>)');
  process.exit(2);
}
const need = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set; testkit/src/oidc.rs sets it`);
    process.exit(2);
  }
  return value;
};

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: need('OIDC_CLIENT_ID'),
      client_secret: need('OIDC_CLIENT_SECRET'),
      redirect_uris: need('OIDC_REDIRECT_URIS').split(' ').filter(Boolean),
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
  },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: id };
      },
    };
  },
  cookies: { keys: ['sendjay-testkit-oidc-cookie-key'] },
});
// Plain HTTP on loopback: tell the provider it is fine (it would refuse insecure cookies otherwise).
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
