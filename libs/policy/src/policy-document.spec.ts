import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '@stepgate/config';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { documentHash, loadFileDocument, riskViewOf } from './policy-document';
import { policyVersionOf, riskTunablesSchema, tunablesOf } from './risk-tunables';

const shipped = readFileSync(resolve(__dirname, '../../../config/stepgate.yaml'), 'utf8');

// A reader of the `risk:` section with start-only parts of its own, as risk (or a control plane) has: the
// lib knows only the tunables, so whatever else a reader adds must survive a version and never be policy.
const readerSection = z.strictObject({
  ...riskTunablesSchema.shape,
  http: z.strictObject({ host: z.string(), port: z.coerce.number().int().min(1) }),
  admin: z.unknown(),
  kafka: z.unknown().optional(),
  reload: z.unknown().optional(),
});

describe('the policy document', () => {
  let dir: string;
  let runtime: { configFile: string; env: Record<string, string> };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stepgate-policy-document-'));
    runtime = { configFile: join(dir, 'stepgate.yaml'), env: {} };
    writeFileSync(runtime.configFile, shipped);
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the file's routes and tunables, never the reader's start-only parts", () => {
    const sut = loadFileDocument(runtime, readerSection);
    expect(Object.keys(sut.document.risk).sort()).toEqual(Object.keys(riskTunablesSchema.shape).sort());
    expect(sut.document.policy.routes.map((r) => r.id)).toContain('payments');
    expect(sut.upstreams).toContain('stepgate-admin');
  });

  it("refuses a file whose start-only parts the reader's schema refuses", () => {
    writeFileSync(runtime.configFile, shipped.replace("'${STEPGATE_RISK_PORT:-8081}'", "'0'"));
    expect(() => loadFileDocument(runtime, readerSection)).toThrow(ConfigError);
  });

  it("runs a version's tunables with the started section's start-only parts", () => {
    const { document } = loadFileDocument(runtime, readerSection);
    const started = readerSection.parse({ ...document.risk, http: { host: 'h', port: 1 }, admin: 'kept' });
    const version = { ...document, risk: { ...document.risk, failureWindowSeconds: 60 } };

    const sut = riskViewOf(version, started);

    expect(sut.ok && sut.config).toEqual({ ...started, failureWindowSeconds: 60 });
    expect(sut.ok && sut.routes.map((r) => r.id)).toContain('payments');
  });

  it('hashes the tunables alone, whatever start-only parts the section carries', () => {
    const { document } = loadFileDocument(runtime, readerSection);
    const section = { ...document.risk, http: { host: 'h', port: 1 } };
    expect(tunablesOf(section)).toEqual(document.risk);
    expect(policyVersionOf(section)).toBe(policyVersionOf(document.risk));
    expect(documentHash({ ...document, risk: tunablesOf(section) })).toBe(documentHash(document));
  });
});
