// Bad input never yields a 500 or a hang: seeded random bytes in the request line, the headers and the
// cookies, sent as they are over TCP to StepGate embedded and over Kafka, a bounded number of times. Every
// answer must be a 4xx, the gateway must stay alive and healthy, and its memory flat. A failure names its
// seed and case.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '@stepgate/risk-scoring';
import { startDistributed, startEmbedded, type Running } from './adversary-flow';

const SEED = 20261203;
const ROUNDS = 4;
const PER_ROUND = 250;
const ANSWER_WITHIN_MS = 10_000;

type Random = () => number;

const pick = <T>(r: Random, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const bytes = (r: Random, n: number, from = 0, to = 255): Buffer =>
  Buffer.from(Array.from({ length: n }, () => from + Math.floor(r() * (to - from + 1))));
/** Random bytes that cannot end the head early (no CR or LF), so every case is one request. */
const noBreaks = (r: Random, n: number): Buffer =>
  Buffer.from([...bytes(r, n)].map((b) => (b === 13 || b === 10 ? 0x20 : b)));

const TOKENISH = Buffer.from('Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.');
const NAMES = [
  'Authorization',
  'Cookie',
  'DPoP',
  'X-Device-Id',
  'Host',
  'User-Agent',
  'X-Forwarded-For',
  'Origin',
];

/** One request head: a mutation of a plausible request, so the bytes reach every stage, not just the parser. */
function requestOf(r: Random): Buffer {
  const path = pick(r, [
    '/api/payments/1',
    '/api/reports/q3',
    '/.stepgate/challenges/x/verify',
    '/',
    '/.stepgate/auth/callback?code=x&state=y',
  ]);
  const lines: Buffer[] = [
    Buffer.from(`${pick(r, ['GET', 'POST', 'PUT', 'DELETE'])} ${path} HTTP/1.1`),
    Buffer.from('Host: localhost'),
  ];
  switch (Math.floor(r() * 6)) {
    case 0: // the request line itself
      lines[0] = Buffer.concat([noBreaks(r, 1 + Math.floor(r() * 40)), Buffer.from(' HTTP/1.1')]);
      break;
    case 1: // the target
      lines[0] = Buffer.concat([
        Buffer.from('GET /'),
        noBreaks(r, 1 + Math.floor(r() * 60)),
        Buffer.from(' HTTP/1.1'),
      ]);
      break;
    case 2: // a header value, raw bytes
      lines.push(Buffer.concat([Buffer.from(`${pick(r, NAMES)}: `), noBreaks(r, 1 + Math.floor(r() * 80))]));
      break;
    case 3: // a header name, raw bytes
      lines.push(Buffer.concat([noBreaks(r, 1 + Math.floor(r() * 20)), Buffer.from(': x')]));
      break;
    case 4: // cookies: StepGate's own and others, with random values
      lines.push(
        Buffer.concat([
          Buffer.from(`Cookie: ${pick(r, ['__Host-stepgate-session', '__Host-stepgate-device', 'a'])}=`),
          noBreaks(r, 1 + Math.floor(r() * 120)),
        ]),
      );
      break;
    default: // a token and a proof that almost parse
      lines.push(Buffer.concat([Buffer.from('Authorization: '), TOKENISH, bytes(r, 20, 0x21, 0x7e)]));
      lines.push(Buffer.concat([Buffer.from('DPoP: '), bytes(r, 30, 0x21, 0x7e)]));
  }
  lines.push(Buffer.from('Connection: close'));
  return Buffer.concat([...lines.flatMap((l) => [l, Buffer.from('\r\n')]), Buffer.from('\r\n')]);
}

/** The status of the answer, or null when the connection closed without one. */
function send(port: number, request: Buffer): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer: the connection hung'));
    }, ANSWER_WITHIN_MS);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.[01] (\d{3}) /.exec(Buffer.concat(chunks).toString('latin1'))?.[1];
      resolve(status === undefined ? null : Number(status));
    });
  });
}

async function residentBytes(base: string): Promise<number> {
  const text = await (await fetch(`${base}/.stepgate/metrics`)).text();
  return Number(/^stepgate_process_resident_memory_bytes(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

const MODES = [
  ['embedded', (backend: 'sqlite') => startEmbedded(backend)],
  ['over Kafka', (backend: 'sqlite') => startDistributed(backend)],
] as const;

describe.each(MODES)('the gateway under random bytes, %s', (_mode, start) => {
  let stepgate: Running;
  let port: number;
  let base: string;

  beforeAll(async () => {
    stepgate = await start('sqlite');
    base = stepgate.target.gateway;
    port = Number(new URL(base).port);
  });

  afterAll(async () => {
    await stepgate?.stop();
  });

  it(`answers ${ROUNDS * PER_ROUND} malformed requests with 4xx only, stays up, and keeps its memory flat`, async () => {
    const r = rng(SEED);
    const rss: number[] = [];
    const unexpected: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < PER_ROUND; i++) {
        const request = requestOf(r);
        const status = await send(port, request);
        if (status === null || status < 400 || status > 499)
          unexpected.push(
            `seed ${SEED} round ${round} case ${i}: ${status ?? 'no answer'} for ${JSON.stringify(request.toString('latin1').slice(0, 200))}`,
          );
      }
      rss.push(await residentBytes(base));
    }
    expect(unexpected).toEqual([]);
    expect((await fetch(`${base}/.stepgate/healthz`)).status).toBe(200);
    // Flat: the last round did not grow the process by more than a few MB over the first (no leak per request).
    expect(rss.every(Number.isFinite)).toBe(true);
    expect(rss.at(-1)! - rss[0]!).toBeLessThan(32 * 1024 * 1024);
  });
});
