import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, parseConfig } from '@stepgate/config';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { riskConfigSchema } from './config';

const shipped = readFileSync(resolve(__dirname, '../../../config/stepgate.yaml'), 'utf8');

function parseWith(edit: (risk: Record<string, unknown>) => void, env: Record<string, string> = {}) {
  const doc = parse(shipped) as { risk: Record<string, unknown> };
  edit(doc.risk);
  return parseConfig(riskConfigSchema, stringify(doc), { source: 'test.yaml', env });
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('risk config', () => {
  it('accepts the shipped config, with defaults and environment overrides', () => {
    const sut = parseConfig(riskConfigSchema, shipped, {
      source: 'stepgate.yaml',
      env: { STEPGATE_RISK_PORT: '0' },
    });
    expect(sut.risk).toMatchObject({
      http: { host: '127.0.0.1', port: 0 },
      thresholds: { medium: 30, high: 60, critical: 85 },
      weights: { newDevice: 50, failedChallengeMax: 40 },
      failureWindowSeconds: 900,
      retention: { assessmentsPerSubject: 100 },
      kafka: {},
    });
  });

  it('uses 8081 when the port is not overridden', () => {
    expect(parseWith(() => {}).risk.http.port).toBe(8081);
  });

  it('reports every problem at once, with its path', () => {
    const problems = problemsOf(() =>
      parseWith(
        (risk) => {
          risk.thresholds = { medium: 70, high: 60, critical: 85 };
          (risk.weights as Record<string, unknown>).newDevice = 'lots';
          risk.surprise = true;
        },
        { STEPGATE_RISK_PORT: 'eighty' },
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^risk\.http\.port.*must be a port number/),
        expect.stringMatching(/^risk\.thresholds.*must increase/),
        expect.stringMatching(/^risk\.weights\.newDevice/),
        expect.stringMatching(/^risk.*surprise/),
      ]),
    );
  });
});
