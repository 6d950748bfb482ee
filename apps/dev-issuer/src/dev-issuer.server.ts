// A development OIDC issuer: discovery and JWKS over HTTP, for `npm start` and the tests. Not for production.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DevIssuerConfig } from './config';
import type { DevIssuerKey } from './dev-issuer.keys';

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

export async function startDevIssuer(config: DevIssuerConfig, key: DevIssuerKey): Promise<RunningServer> {
  const discovery = {
    issuer: config.issuer,
    jwks_uri: `${config.issuer}/jwks.json`,
    id_token_signing_alg_values_supported: ['ES256'],
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    stepgate_note: 'development issuer: tokens come from `npm run -s token -- --sub NAME`',
  };
  const server = createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return json(405, { error: 'method_not_allowed' });
    if (path === '/.well-known/openid-configuration') return json(200, discovery);
    if (path === '/jwks.json') return json(200, { keys: [key.publicJwk] });
    if (path === '/healthz') return json(200, { status: 'ok', development_only: true });
    return json(404, { error: 'not_found' });
  });
  return listen(server, config.http.host, config.http.port);
}

export function listen(server: Server, host: string, port: number): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
