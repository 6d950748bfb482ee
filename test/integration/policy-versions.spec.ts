// The versioned policy as deployed: two risk instances on one database (SQLite and PostgreSQL) and a gateway's
// policy follower, over the Kafka protocol. Changes go through risk's admin API with the gateway's signed
// assertion (signed here with a key whose JWKS a local server publishes), and every instance converges on the
// version risk publishes on the compacted topic.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsoleLogger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import { TOPICS, type PolicyVersion } from '@stepgate/contracts';
import { KafkaMessageBus } from '@stepgate/kafka';
import { type DomainError, HttpErrorsFilter, HttpStatuses } from '@stepgate/observability';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../apps/gateway/src/config';
import { GatewayMetrics } from '../../apps/gateway/src/health/gateway.metrics';
import { GatewayPolicyService } from '../../apps/gateway/src/policy/gateway-policy.service';
import type { StoredVersion } from '../../apps/risk/src/policy/policy-store.service';
import { loadRiskConfig } from '../../apps/risk/src/config';
import { AdminAssertions, ASSERTION_HTTP_STATUSES } from '../../apps/risk/src/admin/admin-assertion';
import { PolicyStoreService, VersionConflict } from '../../apps/risk/src/policy/policy-store.service';
import { PolicyVersionsService } from '../../apps/risk/src/policy/policy-versions.service';
import { RiskPolicyService } from '../../apps/risk/src/policy/risk-policy.service';
import { createRiskApp } from '../../apps/risk/src/risk.bootstrap';
import { startOwnKafka, type KafkaForTests } from '../support/kafka-mock';
import { kafkaClient, probeTopics, type Probe } from '../support/kafka-probe';
import { createTestDatabase, databaseBackends, type TestDatabase } from '../support/postgres';

const quietLogger = () => new ConsoleLogger('risk', { logLevels: ['fatal'] });
const MFA = 'urn:stepgate:acr:mfa';

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

interface AssertionOverrides {
  typ?: string;
  issuer?: string;
  audience?: string;
  iat?: number;
  exp?: number;
}

/** The gateway's side of the assertion: a signing key and its JWKS on a local HTTP server. */
async function startAssertionIssuer(): Promise<{
  jwksUri: string;
  sign(
    claims: { sub: string; acr: string; route?: string },
    key?: CryptoKey,
    over?: AssertionOverrides,
  ): Promise<string>;
  stop(): Promise<void>;
}> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'gateway-1', alg: 'ES256', use: 'sig' };
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    jwksUri: `http://127.0.0.1:${port}/.stepgate/jwks.json`,
    sign: (claims, key = privateKey, over = {}) =>
      new SignJWT({ route: 'stepgate-admin', token_kind: 'stepup', ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'gateway-1', typ: over.typ ?? 'stepgate-assertion+jwt' })
        .setIssuer(over.issuer ?? 'urn:stepgate:gateway')
        .setAudience(over.audience ?? 'stepgate-admin')
        .setIssuedAt(over.iat ?? Math.floor(Date.now() / 1000))
        .setExpirationTime(over.exp ?? '60s')
        .sign(key),
    stop: () => new Promise<void>((done) => server.close(() => done())),
  };
}

describe.each(databaseBackends())('versioned policy over Kafka on %s', (backend) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-policy-versions-'));
  const configFile = join(dataDir, 'stepgate.yaml');
  let kafka: KafkaForTests | undefined;
  let db: TestDatabase | undefined;
  let issuer: Awaited<ReturnType<typeof startAssertionIssuer>>;
  let runtime: RuntimeEnv;
  let a: NestFastifyApplication;
  let b: NestFastifyApplication;
  let baseA: string;
  let baseB: string;
  let gatewayBus: KafkaMessageBus;
  let gateway: GatewayPolicyService;
  let gatewayMetrics: GatewayMetrics;
  let probe: Probe;
  let producer: Producer;

  // A consumer group of its own per app: on the mock cluster a member joining a group waits out a rebalance.
  const startRisk = () =>
    createRiskApp(runtime, quietLogger(), {
      ...loadRiskConfig(runtime),
      kafka: { groupId: `policy-spec-${randomUUID()}` },
    });
  const edit = (from: string, to: string) => {
    const text = readFileSync(configFile, 'utf8');
    expect(text).toContain(from);
    writeFileSync(`${configFile}.tmp`, text.replace(from, to));
    renameSync(`${configFile}.tmp`, configFile);
  };

  beforeAll(async () => {
    kafka = await startOwnKafka();
    if (backend === 'postgres') db = await createTestDatabase();
    issuer = await startAssertionIssuer();
    writeFileSync(
      configFile,
      readFileSync(resolve(__dirname, '../../config/stepgate.yaml'), 'utf8').replace(
        'reload: { watch: true, debounceMs: 250 }',
        'reload: { watch: true, debounceMs: 20 }',
      ),
    );
    runtime = readRuntimeEnv({
      STEPGATE_CONFIG: configFile,
      STEPGATE_DATA_DIR: dataDir,
      STEPGATE_RISK_PORT: '0',
      STEPGATE_GATEWAY_JWKS: issuer.jwksUri,
      DATABASE_URL: db?.url,
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_MAX_WAIT_MS: '25',
      KAFKA_IDEMPOTENT: process.env.KAFKA_BROKERS ? 'true' : 'false',
    });
    gatewayMetrics = new GatewayMetrics();
    gatewayBus = new KafkaMessageBus(
      {
        brokers: kafka.brokers.split(','),
        clientId: 'gateway-spec',
        groupId: `gateway-spec-${randomUUID()}`,
        maxWaitMs: 25,
        idempotent: false,
      },
      [],
    );
    gateway = new GatewayPolicyService(loadGatewayConfig(runtime), gatewayBus, gatewayMetrics);
    producer = kafkaClient(kafka.brokers).producer({ allowAutoTopicCreation: true });
    [a, b, probe] = await Promise.all([
      startRisk(),
      startRisk(),
      probeTopics(kafka.brokers, [TOPICS.policyVersion]),
      gatewayBus.connect(),
      producer.connect(),
    ]);
    await gateway.onModuleInit();
    [baseA, baseB] = [await a.getUrl(), await b.getUrl()];
  });

  afterAll(async () => {
    await gateway?.onModuleDestroy();
    await gatewayBus?.onApplicationShutdown();
    await producer?.disconnect();
    await probe?.stop();
    await a?.close();
    await b?.close();
    await issuer?.stop();
    await kafka?.stop();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const getPolicy = async (base: string) => {
    const res = await fetch(`${base}/admin/policy`);
    return { status: res.status, etag: res.headers.get('etag'), body: (await res.json()) as StoredVersion };
  };
  const write = async (
    base: string,
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
    method = 'PUT',
  ) => {
    const res = await fetch(`${base}/admin/policy${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      etag: res.headers.get('etag'),
      body: (await res.json()) as Record<string, unknown>,
    };
  };
  const asAdmin = async (ifMatch: string, acr = MFA) => ({
    'x-stepgate-assertion': await issuer.sign({ sub: 'alice', acr }),
    'if-match': ifMatch,
  });
  const riskVersion = (app: NestFastifyApplication) => app.get(RiskPolicyService).current.policyVersion;
  const everyoneAt = (version: number) =>
    until(
      () =>
        riskVersion(a) === version && riskVersion(b) === version && gateway.current.version === version
          ? true
          : undefined,
      `every instance at version ${version}`,
    );
  const versions = async () =>
    ((await (await fetch(`${baseA}/admin/policy/versions`)).json()) as { versions: { version: number }[] })
      .versions;

  it('records the config file once as version 1, publishes it, and every instance applies it', async () => {
    const [fromA, fromB] = await Promise.all([getPolicy(baseA), getPolicy(baseB)]);
    expect(fromA.status).toBe(200);
    expect(fromA.etag).toBe('"1"');
    expect(fromB.body).toEqual(fromA.body);
    expect(fromA.body).toMatchObject({ version: 1, source: 'file', author: 'file:stepgate.yaml' });
    expect(fromA.body.document.risk.thresholds).toEqual({ medium: 30, high: 60, critical: 85 });
    // Two instances started on the same file: one version, not two.
    expect(await versions()).toHaveLength(1);
    await everyoneAt(1);
    const published = await probe.waitFor<PolicyVersion>((v) => v.version === 1);
    expect(published.hash).toBe(fromA.body.hash);
    expect(published.lineage).toMatch(/^[0-9a-f]{16}$/);
    expect(probe.messages.every((m) => m.key === 'policy')).toBe(true);
    expect(await (await fetch(`${baseB}/metrics`)).text()).toMatch(
      /stepgate_risk_policy_info\{version="1",model="lr-2\/cfg-[0-9a-f]{8}",service="risk"\} 1/,
    );
    expect(await gatewayMetrics.registry.metrics()).toMatch(
      /stepgate_gateway_policy_info\{version="1",hash=/,
    );
  });

  it('refuses a change without the gateway assertion, a strong enough acr, If-Match, or the version in force', async () => {
    const { body: head } = await getPolicy(baseA);
    const document = head.document;
    const { privateKey: forger } = await generateKeyPair('ES256');

    expect((await write(baseA, '', { document }, { 'if-match': '"1"' })).status).toBe(401);
    const forged = await write(
      baseA,
      '',
      { document },
      {
        'if-match': '"1"',
        'x-stepgate-assertion': await issuer.sign({ sub: 'mallory', acr: MFA }, forger),
      },
    );
    expect(forged.status).toBe(401);
    expect(forged.body.message).toMatch(/does not verify/);
    const weak = await write(baseA, '', { document }, await asAdmin('"1"', 'urn:stepgate:acr:basic'));
    expect(weak.status).toBe(403);
    expect(weak.body.error).toBe('insufficient_user_authentication');
    const { 'if-match': _unused, ...noIfMatch } = await asAdmin('"1"');
    expect((await write(baseA, '', { document }, noIfMatch)).status).toBe(428);
    const stale = await write(baseA, '', { document }, await asAdmin('"0"'));
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ error: 'version_conflict', version: 1 });
    expect(await versions()).toHaveLength(1);
  });

  it('verifies the assertion fully: the gateway key, issuer, audience, type, age, and the admin route', async () => {
    const { body: head } = await getPolicy(baseA);
    const document = head.document;
    const now = Math.floor(Date.now() / 1000);
    const attempt = async (assertion: string) =>
      write(baseA, '', { document }, { 'if-match': '"1"', 'x-stepgate-assertion': assertion });
    const admin = { sub: 'alice', acr: MFA };
    for (const [what, over] of [
      ['another issuer', { issuer: 'urn:someone:else' }],
      ['another upstream', { audience: 'demo' }],
      ['an access token type', { typ: 'at+jwt' }],
      ['an old assertion', { iat: now - 600, exp: now + 60 }],
      ['an expired assertion', { iat: now - 120, exp: now - 60 }],
    ] as const) {
      const res = await attempt(await issuer.sign(admin, undefined, over));
      expect({ what, status: res.status, error: res.body.error }).toEqual({
        what,
        status: 401,
        error: 'unauthenticated',
      });
    }
    // Signed for the admin upstream but through another route (an upstream configured with the same audience).
    const elsewhere = await attempt(await issuer.sign({ ...admin, route: 'reports' }));
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.message).toMatch(
      /must come through a route to the stepgate-admin upstream; this one came through "reports"/,
    );
    expect(await versions()).toHaveLength(1);
  });

  it('fails closed when risk.admin.changeAcr is not among the acr levels in force', async () => {
    const typo = new AdminAssertions({
      ...loadRiskConfig(runtime),
      admin: { ...loadRiskConfig(runtime).admin, changeAcr: 'urn:stepgate:acr:mfaa' },
    });
    const { body: head } = await getPolicy(baseA);
    const basic = await issuer.sign({ sub: 'mallory', acr: 'urn:stepgate:acr:basic' });
    const refused = await typo.authorOf(basic, head.document.policy).catch((err: unknown) => err);
    // The status is the HTTP filter's to give, from the list beside the errors.
    const { status } = new HttpErrorsFilter(new HttpStatuses(ASSERTION_HTTP_STATUSES)).answer(refused);
    expect({ code: (refused as DomainError).code, status }).toMatchObject({
      code: 'policy_locked',
      status: 403,
    });
  });

  it('will not let a change through the API open the API itself', async () => {
    const { body: head } = await getPolicy(baseA);
    const opened = structuredClone(head.document);
    const admin = opened.policy.routes.find((r) => r.id === 'stepgate-admin')!;
    admin.mode = 'monitor';
    admin.decisions = { ...admin.decisions, low: 'allow' };
    delete admin.require;
    const res = await write(baseA, '', { document: opened }, await asAdmin('"1"'));
    expect(res.status).toBe(400);
    expect(res.body.problems).toEqual([
      'policy.routes.0 (stepgate-admin, the admin API).mode: must stay enforce',
      "policy.routes.0 (stepgate-admin, the admin API).require.groups: must name the admins' group",
      'policy.routes.0 (stepgate-admin, the admin API).decisions: must step up or deny at every level, never allow',
    ]);
    const gone = {
      ...head.document,
      policy: { ...head.document.policy, routes: head.document.policy.routes.slice(1) },
    };
    const removed = await write(baseA, '', { document: gone }, await asAdmin('"1"'));
    expect(removed.body.problems).toEqual([
      'policy.routes: no route publishes the admin API (upstream stepgate-admin): no one could change the policy again',
    ]);
    expect(await versions()).toHaveLength(1);
  });

  it('records nothing for the document already in force', async () => {
    const { body: head } = await getPolicy(baseA);
    const same = await write(baseA, '', { document: head.document }, await asAdmin('"1"'));
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ version: 1, recorded: false, published: true });
    expect(same.etag).toBe('"1"');
    expect(await versions()).toHaveLength(1);
  });

  it('refuses an invalid document with every problem and its path, and records nothing', async () => {
    const { body: head } = await getPolicy(baseA);
    const [reports] = head.document.policy.routes.filter((r) => r.id === 'reports');
    const invalid = {
      policy: {
        ...head.document.policy,
        routes: [...head.document.policy.routes, { ...reports!, upstream: 'nowhere' }],
      },
      risk: { ...head.document.risk, thresholds: { medium: 70, high: 60, critical: 85 }, weightz: {} },
    };
    const res = await write(baseA, '', { document: invalid }, await asAdmin('"1"'));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_policy');
    const problems = (res.body.problems as string[]).join('\n');
    expect(problems).toMatch(/risk\.thresholds: must increase/);
    expect(problems).toMatch(/risk: Unrecognized key: "weightz"/);
    // The schema errors come first; the cross-route rules are checked once the sections parse.
    const again = await write(
      baseA,
      '',
      { document: { ...invalid, risk: head.document.risk } },
      await asAdmin('"1"'),
    );
    expect(again.status).toBe(400);
    expect((again.body.problems as string[]).join('\n')).toMatch(
      /policy\.routes\.4\.upstream: unknown upstream "nowhere"[\s\S]*policy\.routes\.4\.id: duplicate route id "reports"/,
    );
    expect(await versions()).toHaveLength(1);
  });

  it('makes a change version 2 on every instance, with its author, comment and diff', async () => {
    const { body: head } = await getPolicy(baseA);
    const document = structuredClone(head.document);
    document.risk.thresholds.medium = 40;
    const reports = document.policy.routes.find((r) => r.id === 'reports')!;
    reports.decisions = { low: 'deny', medium: 'deny', high: 'deny', critical: 'deny' };

    const res = await write(baseA, '', { document, comment: 'reports closed' }, await asAdmin('"1"'));
    expect(res.status).toBe(200);
    expect(res.etag).toBe('"2"');
    expect(res.body).toMatchObject({
      version: 2,
      author: 'alice',
      source: 'api',
      comment: 'reports closed',
      recorded: true,
      published: true,
    });
    await everyoneAt(2);
    expect(b.get(RiskPolicyService).current.config.thresholds.medium).toBe(40);
    expect(b.get(RiskPolicyService).routes.find((r) => r.id === 'reports')?.decisions.low).toBe('deny');
    expect(gateway.current.routes.find((r) => r.policy.id === 'reports')?.policy.decisions.low).toBe('deny');

    const stored = (await (await fetch(`${baseB}/admin/policy/versions/2`)).json()) as StoredVersion;
    expect(stored.changes).toEqual([
      { path: 'policy.routes[reports].decisions.high', op: 'changed', from: 'allow', to: 'deny' },
      { path: 'policy.routes[reports].decisions.low', op: 'changed', from: 'allow', to: 'deny' },
      { path: 'policy.routes[reports].decisions.medium', op: 'changed', from: 'allow', to: 'deny' },
      { path: 'risk.thresholds.medium', op: 'changed', from: 30, to: 40 },
    ]);
    const list = (await (await fetch(`${baseB}/admin/policy/versions?limit=1`)).json()) as {
      versions: { version: number; summary: string }[];
      next: number | null;
    };
    expect(list.versions).toHaveLength(1);
    expect(list.versions[0]).toMatchObject({ version: 2 });
    expect(list.versions[0]!.summary).toContain('risk.thresholds.medium 30 → 40');
    expect(list.next).toBe(2);
  });

  it('lets exactly one of two concurrent changes against the same version through', async () => {
    const { body: head } = await getPolicy(baseA);
    const change = (medium: number) => {
      const document = structuredClone(head.document);
      document.risk.thresholds.medium = medium;
      return document;
    };
    const results = await Promise.all([
      write(baseA, '', { document: change(41) }, await asAdmin('"2"')),
      write(baseB, '', { document: change(42) }, await asAdmin('"2"')),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
    const loser = results.find((r) => r.status === 412)!;
    expect(loser.body).toMatchObject({ error: 'version_conflict', version: 3 });
    const winner = results.find((r) => r.status === 200)!;
    await everyoneAt(3);
    const medium = (winner.body.document as StoredVersion['document']).risk.thresholds.medium;
    expect(a.get(RiskPolicyService).current.config.thresholds.medium).toBe(medium);
    expect(b.get(RiskPolicyService).current.config.thresholds.medium).toBe(medium);
  });

  it('appends exactly one of two writers that read the same head (the primary key, not only the pre-check)', async () => {
    const store = a.get(PolicyStoreService);
    const other = b.get(PolicyStoreService);
    const head = (await store.head())!;
    const next = (medium: number) => ({
      document: {
        ...head.document,
        risk: { ...head.document.risk, thresholds: { ...head.document.risk.thresholds, medium } },
      },
      author: 'spec',
      source: 'api' as const,
      restores: null,
      comment: null,
      expected: head.version,
    });
    const results = await Promise.allSettled([store.append(next(43)), other.append(next(44))]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = results.find((r) => r.status === 'rejected')!;
    expect(lost.reason).toBeInstanceOf(VersionConflict);
    expect(lost.reason).toMatchObject({ expected: head.version, head: head.version + 1 });
    // Published like any change, so every instance moves on to it.
    await a.get(PolicyVersionsService).publishHead();
    await everyoneAt(head.version + 1);
  });

  it('rolls back to any earlier version as a new version, and every instance follows', async () => {
    const { body: first } = await getPolicy(baseA).then(async () => ({
      body: (await (await fetch(`${baseA}/admin/policy/versions/1`)).json()) as StoredVersion,
    }));
    const missing = await write(baseA, '/rollback', { to: 99 }, await asAdmin('"4"'), 'POST');
    expect(missing.status).toBe(404);
    const res = await write(
      baseA,
      '/rollback',
      { to: 1, comment: 'back to the file' },
      await asAdmin('"4"'),
      'POST',
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ version: 5, source: 'rollback', restores: 1, hash: first.hash });
    await everyoneAt(5);
    expect(b.get(RiskPolicyService).current.config.thresholds.medium).toBe(30);
    expect(gateway.current.routes.find((r) => r.policy.id === 'reports')?.policy.decisions.low).toBe('allow');
  });

  it('records a config file edit as a version, and a restart with the file unchanged keeps admin changes', async () => {
    edit(
      'thresholds: { medium: 30, high: 60, critical: 85 }',
      'thresholds: { medium: 35, high: 60, critical: 85 }',
    );
    const fromFile = await until(async () => {
      const { body } = await getPolicy(baseA);
      return body.version === 6 ? body : undefined;
    }, 'the file edit recorded');
    // Both instances watch the file; one of them recorded it.
    expect(fromFile).toMatchObject({
      source: 'file',
      author: 'file:stepgate.yaml',
      // The file is a whole document: what the API changed since its last edit is replaced, and said so.
      comment: "replaces versions 2-5 (made since the file's last edit)",
    });
    expect(fromFile.changes).toEqual([{ path: 'risk.thresholds.medium', op: 'changed', from: 30, to: 35 }]);
    await everyoneAt(6);

    const document = structuredClone(fromFile.document);
    document.risk.thresholds.medium = 45;
    expect((await write(baseA, '', { document }, await asAdmin('"6"'))).status).toBe(200);
    await everyoneAt(7);

    await b.close();
    b = await startRisk();
    baseB = await b.getUrl();
    const { body: head } = await getPolicy(baseB);
    expect(head.version).toBe(7);
    expect(await versions()).toHaveLength(7);
    await until(() => (riskVersion(b) === 7 ? true : undefined), 'the restarted instance at version 7');
    expect(b.get(RiskPolicyService).current.config.thresholds.medium).toBe(45);
  });

  it('skips what does not validate on the topic: every follower keeps the version in force', async () => {
    const before = gateway.current;
    const { body: head } = await getPolicy(baseA);
    const broken = {
      ...head,
      version: head.version + 10,
      document: { ...head.document, policy: { ...head.document.policy, routes: [{ id: 'x' }] } },
    };
    const { changes: _changes, ...rest } = broken;
    const { lineage } = await probe.waitFor<PolicyVersion>(() => true);
    const event = { ...rest, lineage };
    await producer.send({
      topic: TOPICS.policyVersion,
      messages: [
        { key: 'policy', value: 'not json' },
        { key: 'policy', value: JSON.stringify({ version: 'seven' }) },
        { key: 'policy', value: JSON.stringify(event) },
      ],
    });
    await until(
      async () =>
        /stepgate_gateway_policy_reloads_total\{result="rejected",service="gateway"\} 1/.test(
          await gatewayMetrics.registry.metrics(),
        )
          ? true
          : undefined,
      'the gateway rejecting the broken version',
    );
    expect(gateway.current).toBe(before);
    expect(riskVersion(a)).toBe(head.version);
    expect(riskVersion(b)).toBe(head.version);
  });
});
