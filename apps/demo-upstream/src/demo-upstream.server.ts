// The demo upstream: answers every request with what it received, so the proxy's work is visible.
//   any path           { method, path, headers, body: { bytes, sha256 } }
//   /stream?bytes=N    N bytes streamed in 64 KiB chunks (a large streamed response)
//   WebSocket upgrade  an echo socket on any path
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const MAX_STREAM_BYTES = 1024 * 1024 * 1024;

export interface DemoUpstream {
  server: Server;
  port: number;
  /** Requests that arrived at all, whose body arrived in full, and that were abandoned mid-body. */
  counts: { received: number; completed: number; aborted: number };
}

export async function startDemoUpstream(host: string, port: number): Promise<DemoUpstream> {
  const counts = { received: 0, completed: 0, aborted: 0 };
  const server = createServer((req, res) => {
    counts.received++;
    const url = new URL(req.url ?? '/', 'http://demo.invalid');
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('aborted', () => counts.aborted++);
    req.on('error', () => undefined);
    req.on('end', () => {
      counts.completed++;
      if (url.pathname === '/stream') {
        const total = Math.min(Number(url.searchParams.get('bytes')) || 0, MAX_STREAM_BYTES);
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            const n = Math.min(chunk.length, total - sent);
            sent += n;
            if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      const body = JSON.stringify({
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: { bytes, sha256: hash.digest('hex') },
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  const wss = new WebSocketServer({ server, maxPayload: 1024 * 1024 });
  wss.on('connection', (socket, req) => {
    socket.send(JSON.stringify({ hello: true, path: req.url, headers: req.headers }));
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, host);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, counts };
}
