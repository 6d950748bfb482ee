// Per-route policy changes apply without a restart: the embedded StepGate on a copy of the config file, the
// file edited while it runs (as an editor saves: a new file renamed over the old one). Risk records each edit
// as a policy version and the gateway applies what risk publishes.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  entry,
  eventually,
  freePorts,
  ROOT,
  startService,
  stepgateEnv,
  waitForHealthy,
  type Service,
} from '../support/processes';
import { devToken } from './step-up-flow';

describe('route policy changes without a restart', () => {
  let service: Service;
  let gateway: string;
  let env: Record<string, string>;
  let configFile: string;

  const edit = (...changes: [from: string, to: string][]) => {
    let text = readFileSync(configFile, 'utf8');
    for (const [from, to] of changes) {
      expect(text).toContain(from);
      text = text.replace(from, to);
    }
    writeFileSync(`${configFile}.tmp`, text);
    renameSync(`${configFile}.tmp`, configFile);
  };
  const reports = async (token: string) =>
    (
      await fetch(`${gateway}/api/reports/q3`, {
        headers: { authorization: `Bearer ${token}`, 'x-device-id': 'reload-laptop' },
      })
    ).status;
  const metrics = async () => (await fetch(`${gateway}/.stepgate/metrics`)).text();

  beforeAll(async () => {
    const ports = await freePorts();
    env = stepgateEnv(ports);
    configFile = join(env.STEPGATE_DATA_DIR!, 'stepgate.yaml');
    writeFileSync(configFile, readFileSync(join(ROOT, 'config/stepgate.yaml'), 'utf8'));
    env.STEPGATE_CONFIG = configFile;
    service = startService('stepgate', [entry('stepgate')], env);
    gateway = `http://127.0.0.1:${ports.gateway}`;
    await waitForHealthy(`${gateway}/.stepgate/healthz`, service);
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('applies a valid change to a route, refuses an invalid one, and shows the version in force', async () => {
    const token = devToken(env, 'reload-alice');
    // The file's policy is version 1, recorded and published by risk at start.
    await eventually(
      async () => (/stepgate_gateway_policy_info\{version="1",/.test(await metrics()) ? true : undefined),
      'version 1 in force',
    );
    expect(await reports(token)).toBe(200);

    // Reports no longer open to everyone: denied at every level below critical too.
    edit([
      'decisions: { low: allow, medium: allow, high: allow, critical: deny }',
      'decisions: { low: deny, medium: deny, high: deny, critical: deny }',
    ]);
    await eventually(async () => ((await reports(token)) === 403 ? true : undefined), 'reports denied');
    const after = await metrics();
    expect(after).toMatch(/stepgate_gateway_policy_reloads_total\{result="applied",service="gateway"\} 2/);
    expect(after).toMatch(/stepgate_gateway_policy_info\{version="2",/);
    // Every access event names the version it was decided under (the access log line carries the same).
    await eventually(
      async () =>
        /"path":"\/api\/reports\/q3","route":"reports","decision":"deny".*"policyVersion":2/.test(
          service.output(),
        )
          ? true
          : undefined,
      'the denial logged under version 2',
    );

    // A route moved to an upstream added in the same edit is refused (upstreams are read at start): the
    // policy in force stays.
    edit(
      ['  upstreams:\n', "  upstreams:\n    elsewhere: { url: 'http://127.0.0.1:9' }\n"],
      ['      upstream: demo\n      # Low sensitivity', '      upstream: elsewhere\n      # Low sensitivity'],
    );
    await eventually(
      async () =>
        /stepgate_gateway_policy_reloads_total\{result="rejected",service="gateway"\} 1/.test(await metrics())
          ? true
          : undefined,
      'the invalid change rejected',
    );
    expect(await reports(token)).toBe(403);
    expect(service.output()).toMatch(
      /policy version 3 rejected, keeping 2: policy\.routes\.1\.upstream: unknown upstream \\"elsewhere\\" \(a new upstream needs a restart\)/,
    );
  });
});
