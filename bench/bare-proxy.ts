// The baseline the gateway is measured against: a bare Node reverse proxy (node:http + an undici pool),
// streaming both ways, with no policy, no identity and no events.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [upstreamUrl, portArg] = process.argv.slice(2);
if (!upstreamUrl || !portArg) throw new Error('usage: bare-proxy.js UPSTREAM_URL PORT');
const pool = new Pool(upstreamUrl, { connections: 128, keepAliveTimeout: 30_000 });

const server = createServer((req, res) => {
  const headers = { ...req.headers };
  delete headers.host;
  delete headers.connection;
  pool
    .request({
      path: req.url ?? '/',
      method: req.method as 'GET',
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
    })
    .then(
      (up) => {
        res.writeHead(up.statusCode, up.headers as Record<string, string>);
        up.body.pipe(res);
      },
      () => {
        res.writeHead(502).end();
      },
    );
});
server.keepAliveTimeout = 60_000;
server.listen(Number(portArg), '127.0.0.1', () => console.log(`bare proxy on ${portArg} -> ${upstreamUrl}`));
