import { describe, expect, it } from 'vitest';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './forward-headers';

const ctx = { clientIp: '203.0.113.9', host: 'app.example', proto: 'https' as const, correlationId: 'c-1' };

describe(upstreamRequestHeaders.name, () => {
  it('sets forwarding headers from the connection and drops what the client claimed', () => {
    const out = upstreamRequestHeaders(
      {
        'x-forwarded-for': '1.1.1.1',
        x_forwarded_for: '2.2.2.2',
        connection: 'keep-alive, x-secret',
        'x-secret': 's',
        accept: 'a',
      },
      ctx,
    );
    expect(out).toMatchObject({
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      accept: 'a',
    });
    expect(out.x_forwarded_for).toBeUndefined();
    expect(out['x-secret']).toBeUndefined();
  });
});

describe(downstreamResponseHeaders.name, () => {
  it("keeps an upstream's own cookies but never lets it set StepGate's", () => {
    const out = downstreamResponseHeaders({
      'set-cookie': [
        'app=1; Path=/',
        '__Host-stepgate-session=forged; Path=/; Secure',
        '__host-STEPGATE-device=x',
      ],
      'content-type': 'text/plain',
      connection: 'close',
    });
    expect(out['set-cookie']).toEqual(['app=1; Path=/']);
    expect(out['content-type']).toBe('text/plain');
    expect(out.connection).toBeUndefined();
  });
});
