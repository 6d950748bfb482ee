// A development OIDC issuer: discovery, JWKS, a login page and the authorization code flow with PKCE, for
// `npm start` and the tests. Not for production.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DevIssuerConfig } from './config';
import type { DevIssuerKey } from './dev-issuer.keys';
import { DevOidcProvider } from './dev-oidc';

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

export async function startDevIssuer(config: DevIssuerConfig, key: DevIssuerKey): Promise<RunningServer> {
  const oidc = new DevOidcProvider(config, key);
  const server = createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://dev-issuer.invalid');
    const path = url.pathname;
    const route = async (): Promise<void> => {
      if (path === '/authorize' && (req.method === 'GET' || req.method === 'POST'))
        return oidc.authorize(req, res, url);
      if (path === '/token' && req.method === 'POST') {
        const { status, body } = await oidc.token(req);
        return json(status, body);
      }
      if (req.method !== 'GET') return json(405, { error: 'method_not_allowed' });
      if (path === '/.well-known/openid-configuration') return json(200, oidc.discovery());
      if (path === '/jwks.json') return json(200, { keys: [key.publicJwk] });
      if (path === '/healthz') return json(200, { status: 'ok', development_only: true });
      return json(404, { error: 'not_found' });
    };
    route().catch((err: unknown) => {
      if (!res.headersSent) json(400, { error: 'invalid_request', error_description: String(err) });
      else res.destroy();
    });
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
