// The demo upstream: answers every request with what it received, so the proxy's work is visible.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startDemoUpstream(
  host: string,
  port: number,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    // Drain any body so keep-alive connections stay usable.
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, path: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, host);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}
