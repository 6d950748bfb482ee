import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, parseConfig } from '@stepgate/config';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadRoutesView, policyVersionOf, scoringSettingsOf } from '@stepgate/policy';
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
      retention: { assessmentsPerSubject: 100, valuesPerFeature: 50, processedMessagesDays: 14 },
      lists: { badIps: [], trustedNetworks: [] },
      reload: { watch: true },
      kafka: {},
    });
  });

  it('validates lists as IPs or CIDR ranges and the model features by name', () => {
    const problems = problemsOf(() =>
      parseWith((risk) => {
        risk.lists = { badIps: ['10.0.0.0/8', 'nowhere/8'], trustedNetworks: ['2001:db8::/129'] };
        (risk.model as Record<string, unknown>).coldStart = {
          history: 5,
          rareShare: 0.01,
          points: 10,
          minPopulation: 1,
          features: ['country', 'shoe_size'],
        };
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^risk\.lists\.badIps\.1.*IP address or CIDR/),
        expect.stringMatching(/^risk\.lists\.trustedNetworks\.0.*IP address or CIDR/),
        expect.stringMatching(/^risk\.model\.coldStart\.features\.1/),
      ]),
    );
  });

  it('versions the policy by its content, not by http or kafka', () => {
    const base = parseWith(() => {}).risk;
    expect(policyVersionOf(base)).toMatch(/^[0-9a-f]{8}$/);
    expect(policyVersionOf({ ...base, http: { host: '0.0.0.0', port: 1 } })).toBe(policyVersionOf(base));
    expect(policyVersionOf({ ...base, thresholds: { ...base.thresholds, medium: 31 } })).not.toBe(
      policyVersionOf(base),
    );
  });

  it('validates monitored signals by name; they are part of the policy version', () => {
    expect(problemsOf(() => parseWith((risk) => (risk.monitor = ['bad_ip', 'shoe_size'])))).toEqual([
      expect.stringMatching(/^risk\.monitor\.1.*must be a signal: new_device, /),
    ]);
    const base = parseWith(() => {}).risk;
    expect(base.monitor).toEqual([]);
    const monitored = parseWith((risk) => (risk.monitor = ['model_city'])).risk;
    expect(monitored.monitor).toEqual(['model_city']);
    expect(policyVersionOf(monitored)).not.toBe(policyVersionOf(base));
    expect(scoringSettingsOf(monitored).monitor).toEqual(new Set(['model_city']));
  });

  it('reads a loose view of the routes: what each asks for per level and what a step-up must prove', () => {
    const { routes, acrLevels } = loadRoutesView({
      configFile: resolve(__dirname, '../../../config/stepgate.yaml'),
      env: {},
    });
    expect(routes.find((r) => r.id === 'payments')).toEqual({
      id: 'payments',
      decisions: { low: 'allow', medium: 'step_up', high: 'step_up', critical: 'deny' },
      onRiskUnavailable: 'deny',
      mode: 'enforce',
      stepUp: {
        acr: 'urn:stepgate:acr:mfa',
        maxAgeSeconds: 300,
        acrByLevel: { high: 'urn:stepgate:acr:phr' },
      },
    });
    expect(routes.find((r) => r.id === 'reports')).not.toHaveProperty('stepUp');
    expect(acrLevels).toEqual(['urn:stepgate:acr:basic', 'urn:stepgate:acr:mfa', 'urn:stepgate:acr:phr']);
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
