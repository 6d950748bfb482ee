// Issue #11: the attacker's findings as end-to-end specs through real HTTP. The attacker holds the victim's
// bearer token and copies what the victim's requests say about their device (X-Device-Id), from the same
// address; each spec states what StepGate must do about it. Embedded (one process, SQLite or PostgreSQL) and
// over Kafka (a process per service). Asynchronous learning is awaited through the services' own counters
// (learningSettled), and the gateway's decision cache, here CACHE_TTL_SECONDS long, is outlasted where a
// spec needs a request scored afresh.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseBackends } from '../support/postgres';
import { eventually } from '../support/processes';
import {
  Client,
  confirmedVictim,
  described,
  dpopKey,
  expectBadProof,
  expectPlainReasons,
  expectServed,
  expectStepUp,
  learningSettled,
  learntValues,
  outlastDecisionCache,
  profileOf,
  startDistributed,
  startEmbedded,
  UA,
  type Answer,
  type Running,
  type Target,
} from './adversary-flow';
import { devToken } from './step-up-flow';

const PAYMENTS = '/api/payments/42';
const PHR = 'urn:stepgate:acr:phr';
const SPEC_TIMEOUT = 180_000;

// --- Findings 1 and 2: the decision cache, and what risk learns from it ----------------------------------

/** 1. Same token and device id, another browser, same address, within the cache lifetime: scored, not served. */
async function anotherBrowserIsNotServedFromTheCache(t: Target, subject: string): Promise<void> {
  const victim = await confirmedVictim(t, subject);
  // The victim's allow is now what the gateway would reuse for CACHE_TTL_SECONDS.
  expectServed(await victim.client.call(PAYMENTS));
  const attacker = victim.client.with({ userAgent: UA.firefoxLinux });
  expectStepUp(await attacker.call(PAYMENTS));
}

/** 2. After the attacker's attempts have been learnt and the cache has expired, nothing has changed hands. */
async function attemptsDoNotTeachTheAttackersBrowser(t: Target, subject: string): Promise<void> {
  const victim = await confirmedVictim(t, subject);
  expectServed(await victim.client.call(PAYMENTS));
  const attacker = victim.client.with({ userAgent: UA.firefoxLinux });
  const attempts: Answer[] = [];
  for (let i = 0; i < 5; i++) attempts.push(await attacker.call(PAYMENTS));
  await learningSettled(t);
  await outlastDecisionCache();
  const victimAfter = await victim.client.call(PAYMENTS);
  const attackerAfter = await attacker.call(PAYMENTS);
  const context = `attempts answered ${attempts.map((a) => a.status).join(', ')}`;
  expect
    .soft(victimAfter.status, `the victim's Chrome afterwards (${context}): ${described(victimAfter)}`)
    .toBe(200);
  expectStepUp(attackerAfter, undefined, (v, m) =>
    expect.soft(v, `the attacker afterwards (${context}): ${m}`),
  );
}

// --- Finding 3: a missing User-Agent ---------------------------------------------------------------------

async function missingUserAgentIsInformation(t: Target, subject: string): Promise<void> {
  const victim = await confirmedVictim(t, subject);
  // Scored afresh, not served the victim's cached allow (that is finding 1).
  await outlastDecisionCache();
  const empty = await victim.client.with({ userAgent: '' }).call(PAYMENTS);
  const absent = await victim.client.with({ userAgent: null }).call(PAYMENTS);
  expectStepUp(empty, undefined, (v, m) => expect.soft(v, `empty User-Agent: ${m}`));
  expectStepUp(absent, undefined, (v, m) => expect.soft(v, `no User-Agent header: ${m}`));
  // Whatever those taught risk, the device's context was not erased: the victim's Chrome is still served,
  // and the attacker's browser, which an erased context would no longer contradict, is still stepped up.
  await learningSettled(t);
  await outlastDecisionCache();
  const victimAfter = await victim.client.call(PAYMENTS);
  const attackerAfter = await victim.client.with({ userAgent: UA.firefoxLinux }).call(PAYMENTS);
  expect.soft(victimAfter.status, `the victim's Chrome afterwards: ${described(victimAfter)}`).toBe(200);
  expectStepUp(attackerAfter, undefined, (v, m) => expect.soft(v, `the attacker's Firefox afterwards: ${m}`));
}

// --- Finding 4: the level's assurance, at the time of use -------------------------------------------------

async function mfaDoesNotPassWherePhrIsRequired(t: Target, subject: string): Promise<void> {
  const victim = await confirmedVictim(t, subject);
  const totpMinted = victim.client.with({ token: victim.steppedUp.access_token });
  // The stepped-up token passes at medium, where mfa is what payments asks for.
  expectServed(await totpMinted.call(PAYMENTS));

  // Every loopback address is now a bad IP (weight 60, the high threshold): high risk, deterministically.
  t.editConfig([
    'lists: { badIps: [], trustedNetworks: [] }',
    "lists: { badIps: ['127.0.0.0/8'], trustedNetworks: [] }",
  ]);
  const high = await expectEventuallyHigh(victim.client);
  expectStepUp(high, PHR, (v, m) => expect.soft(v, `the plain token at high: ${m}`));
  expectPlainReasons(high, [], expect.soft);

  const issuerMfa = victim.client.with({ token: devToken(t.env, subject, '--acr', 'urn:stepgate:acr:mfa') });
  const totpAnswer = await totpMinted.call(PAYMENTS);
  const issuerAnswer = await issuerMfa.call(PAYMENTS);
  expectStepUp(totpAnswer, PHR, (v, m) => expect.soft(v, `TOTP-minted stepped-up token at high: ${m}`));
  expectStepUp(issuerAnswer, PHR, (v, m) => expect.soft(v, `issuer's fresh mfa token at high: ${m}`));
  // The control: a fresh phishing-resistant sign-in is what high asks for, and passes.
  const issuerPhr = victim.client.with({ token: devToken(t.env, subject, '--acr', PHR) });
  expectServed(await issuerPhr.call(PAYMENTS), (v, m) =>
    expect.soft(v, `issuer's fresh phr token at high: ${m}`),
  );

  // A device nobody has seen, from a bad network: critical, denied; the 403 tells no more than a 401.
  const stranger = victim.client.with({ device: `stranger-${subject}`, userAgent: UA.firefoxLinux });
  const denied = await stranger.call('/api/reports/q3');
  expect.soft(denied.status, described(denied)).toBe(403);
  expectPlainReasons(denied, [], expect.soft);
}

/** The policy edit applied by risk and the gateway: payments judged at high for the victim's own context. */
async function expectEventuallyHigh(client: Client): Promise<Answer> {
  let last: Answer | undefined;
  return eventually(async () => {
    last = await client.call(PAYMENTS);
    return (last.json.risk as { level?: string } | undefined)?.level === 'high' ? last : undefined;
  }, 'payments judged at high risk after the badIps edit').catch((err: Error) => {
    throw new Error(`${err.message}; last answer: ${last ? described(last) : 'none'}`);
  });
}

// --- Finding 5: what a client is told -----------------------------------------------------------------

const VICTIM_ADDRESS = '81.2.69.160'; // GB, in geoip-lite's data
const ATTACKER_ADDRESS = '89.160.20.112'; // SE

async function answersDoNotDiscloseTheProfile(t: Target, subject: string): Promise<void> {
  const victim = await confirmedVictim(t, subject, { forwardedFor: VICTIM_ADDRESS });
  for (let i = 0; i < 5; i++) expectServed(await victim.client.call(`/api/reports/q${i}`));
  await learningSettled(t);
  const answers = [
    // The copied token and device id, from the attacker's browser and place.
    await victim.client.with({ userAgent: UA.firefoxLinux, forwardedFor: ATTACKER_ADDRESS }).call(PAYMENTS),
    // The copied token from a device of the attacker's own.
    await victim.client
      .with({ userAgent: UA.firefoxLinux, forwardedFor: ATTACKER_ADDRESS, device: `attacker-box-${subject}` })
      .call(PAYMENTS),
    // The victim's own browser from the attacker's place.
    await victim.client.with({ forwardedFor: ATTACKER_ADDRESS }).call(PAYMENTS),
  ];
  const profile = await profileOf(t, subject);
  const learnt = learntValues(profile);
  // The fixture works: risk did learn the victim's network, place and browser, and the console keeps them.
  expect(learnt).toContain('81.2.69.0/24');
  expect(learnt.map((v) => v.toLowerCase())).toContain('chrome');
  for (const a of answers) {
    expect.soft([401, 403], described(a)).toContain(a.status);
    expectPlainReasons(a, learnt, expect.soft);
  }
}

// --- Finding 6: API clients without a device id ------------------------------------------------------

async function deviceLessClientBuildsFamiliarity(t: Target, subject: string): Promise<void> {
  const bot = new Client(t.gateway, {
    token: devToken(t.env, subject),
    userAgent: UA.reportingBot,
    device: null,
  });
  // A fresh subject with no history: the first payments call is a step-up.
  expectStepUp(await bot.call(PAYMENTS), undefined, (v, m) =>
    expect.soft(v, `the first payments call: ${m}`),
  );
  for (let i = 0; i < 15; i++) expectServed(await bot.call(`/api/reports/q${i}`));
  await learningSettled(t);
  await outlastDecisionCache();
  expectServed(await bot.call(PAYMENTS), (v, m) => expect.soft(v, `payments after 15 allowed reports: ${m}`));
}

async function deviceSenderWithoutDeviceIsStepped(t: Target, subject: string): Promise<void> {
  const victim = await confirmedVictim(t, subject);
  // Same token, browser and network as the victim's usual; only the device id is gone.
  expectStepUp(await victim.client.with({ device: null }).call(PAYMENTS));
}

// --- Finding 7: DPoP -------------------------------------------------------------------------------------

async function dpopClient(t: Target, subject: string): Promise<void> {
  const key = await dpopKey();
  // A DPoP client that also sends an X-Device-Id, which must change nothing: the device is the key.
  const headerDevice = `dpop-laptop-${subject}`;
  const victim = await confirmedVictim(t, subject, { dpop: key, device: headerDevice });
  const client = victim.client;

  const stepped = client.with({ token: victim.steppedUp.access_token });
  expectServed(await stepped.call(PAYMENTS));
  const steppedAsBearer = await stepped.call(PAYMENTS, { scheme: 'Bearer', proof: null });
  expect.soft(steppedAsBearer.status, described(steppedAsBearer)).toBe(401);
  expect.soft(steppedAsBearer.wwwAuthenticate, described(steppedAsBearer)).toMatch(/^DPoP /);

  const reports = '/api/reports/q3';
  expectServed(await client.call(reports));
  const asBearer = await client.call(reports, { scheme: 'Bearer', proof: null });
  expect.soft(asBearer.status, described(asBearer)).toBe(401);
  expect.soft(asBearer.wwwAuthenticate, described(asBearer)).toMatch(/^DPoP /);
  expectBadProof(await client.call(reports, { proof: null }), expect.soft);

  const once = await client.proof(reports);
  expectServed(await client.call(reports, { proof: once }), expect.soft);
  expectBadProof(await client.call(reports, { proof: once }), (v, m) =>
    expect.soft(v, `replayed proof: ${m}`),
  );

  const other = await dpopKey();
  const malformed: [string, string][] = [
    ['garbage', 'not-a-proof'],
    ['three garbage segments', 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA'],
    ['wrong htu', await client.proof('/api/reports/q4')],
    ['wrong htm', await client.proof(reports, 'POST')],
    ['another key', await client.proof(reports, 'GET', other)],
  ];
  for (const [what, proof] of malformed)
    expectBadProof(await client.call(reports, { proof }), (v, m) => expect.soft(v, `${what}: ${m}`));

  // The device is the key: another X-Device-Id changes nothing for the DPoP client...
  expectServed(await client.with({ device: `elsewhere-${subject}` }).call(PAYMENTS), expect.soft);
  // ...and a bearer client replaying the X-Device-Id the DPoP client sent does not inherit the key's trust.
  const copycat = new Client(t.gateway, {
    token: devToken(t.env, subject),
    userAgent: UA.chromeWindows,
    device: headerDevice,
  });
  expectStepUp(await copycat.call(PAYMENTS), undefined, (v, m) => expect.soft(v, `copied X-Device-Id: ${m}`));
  const namingTheKey = await copycat.with({ device: `dpop:${key.jkt}` }).call(PAYMENTS);
  expect.soft(namingTheKey.status, `X-Device-Id naming the key: ${described(namingTheKey)}`).not.toBe(200);
  expect.soft(namingTheKey.status, described(namingTheKey)).toBeLessThan(500);
}

// --- Suites: every finding in the embedded mode and over Kafka, on SQLite and PostgreSQL ------------------

const FINDINGS: [title: string, walk: (t: Target, subject: string) => Promise<void>, who: string][] = [
  [
    '1: the same token and device id from another browser is scored, not served the cached allow',
    anotherBrowserIsNotServedFromTheCache,
    'victim1',
  ],
  [
    "2: the attacker's attempts do not make its browser the device's normal",
    attemptsDoNotTeachTheAttackersBrowser,
    'victim2',
  ],
  [
    '3: an empty or absent User-Agent is stepped up and erases nothing',
    missingUserAgentIsInformation,
    'victim3',
  ],
  [
    "5: step-up and deny answers give plain reasons, never the account's profile",
    answersDoNotDiscloseTheProfile,
    'victim5',
  ],
  [
    '6: a device-less API client builds familiarity from its network and client',
    deviceLessClientBuildsFamiliarity,
    'bot6',
  ],
  [
    '6: a subject that sends a device id is stepped up when it suddenly sends none',
    deviceSenderWithoutDeviceIsStepped,
    'victim6',
  ],
  ['7: a DPoP client: bound tokens, proofs, the key as the device, and step-up', dpopClient, 'dpop7'],
];

const MODES = [
  ['embedded', startEmbedded],
  ['over Kafka', startDistributed],
] as const;

for (const [mode, start] of MODES) {
  describe.each(databaseBackends())(`issue #11 adversary, ${mode} on %s`, (backend) => {
    let stepgate: Running;

    beforeAll(async () => {
      // The loopback may name the client in X-Forwarded-For: victims and attackers in real places (finding 5).
      stepgate = await start(backend, { env: { STEPGATE_TRUSTED_PROXIES: '127.0.0.1/32' } });
    });
    afterAll(async () => {
      await stepgate?.stop();
    });

    it.each(FINDINGS)('%s', { timeout: SPEC_TIMEOUT }, async (_title, walk, who) => {
      await walk(stepgate.target, `${who}-${mode.replace(' ', '-')}-${backend}`);
    });
  });

  // A deployment of its own: the walk turns every loopback address into a bad IP (high risk for everyone).
  describe.each(databaseBackends())(`issue #11 adversary at high risk, ${mode} on %s`, (backend) => {
    let stepgate: Running;

    beforeAll(async () => {
      // The shipped policy: payments asks for a phishing-resistant step-up at high (stepUp.acrByLevel).
      stepgate = await start(backend);
    });
    afterAll(async () => {
      await stepgate?.stop();
    });

    it(
      '4: a TOTP-minted or issuer mfa token does not pass where the level asks for phr',
      { timeout: SPEC_TIMEOUT },
      async () => {
        await mfaDoesNotPassWherePhrIsRequired(
          stepgate.target,
          `victim4-${mode.replace(' ', '-')}-${backend}`,
        );
      },
    );
  });
}
