import { describe, expect, it } from 'vitest';
import { accessEvent } from './access/access.event';
import { isStorableText } from './common';
import { deadLetter } from './dead-letter/dead-letter.event';

const access = {
  eventId: 'e-1',
  time: '2026-01-01T00:00:00Z',
  correlationId: 'c-1',
  subject: 'alice',
  sessionId: null,
  deviceId: 'd-1',
  deviceSource: 'header',
  clientIp: '203.0.113.7',
  userAgent: 'agent/1',
  method: 'GET',
  host: 'localhost',
  path: '/',
  route: 'reports',
  decision: 'allow',
  reason: 'risk low',
  status: 200,
  riskScore: 10,
  riskLevel: 'low',
  acr: null,
  policyVersion: null,
  monitored: false,
  steppedUp: false,
};

describe(isStorableText.name, () => {
  it('refuses what PostgreSQL cannot hold or would silently alter: NUL, and unpaired surrogates', () => {
    expect(isStorableText('alice 😀 é')).toBe(true);
    expect(isStorableText('ali\u0000ce')).toBe(false);
    expect(isStorableText('ali\ud800ce')).toBe(false);
    expect(isStorableText('ali\udc00')).toBe(false);
  });
});

describe('message strings', () => {
  it('refuse at the door what the store would refuse in the handler, with the reason', () => {
    expect(accessEvent.safeParse(access).success).toBe(true);
    const nul = accessEvent.safeParse({ ...access, subject: 'ali\u0000ce', userAgent: 'a\ud800' });
    expect(nul.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'subject: must not contain NUL or unpaired UTF-16 surrogates',
      'userAgent: must not contain NUL or unpaired UTF-16 surrogates',
    ]);
    // Longer than the column it is stored in (risk_devices.device_id, varchar(128)).
    expect(accessEvent.safeParse({ ...access, deviceId: 'd'.repeat(129) }).success).toBe(false);
  });

  it('leave a dead letter as it arrived, NUL and all', () => {
    const letter = {
      time: '2026-01-01T00:00:00Z',
      consumer: 'g',
      topic: 't',
      partition: 0,
      offset: '1',
      key: null,
      value: '{"subject":"a\u0000"}',
      reason: 'subject: must not contain NUL or unpaired UTF-16 surrogates',
    };
    expect(deadLetter.safeParse(letter).success).toBe(true);
  });
});
