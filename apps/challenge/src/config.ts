// The challenge service's configuration: its own `challenge:` section, the token issuers it shares with the
// gateway, the acr levels of the policy, and the secrets it takes from the environment (NAME or NAME_FILE, else
// the demo secrets directory, docs/adr/0015). The only place the service reads environment variables.
import { createHash } from 'node:crypto';
import {
  announceDemoSecrets,
  ConfigError,
  loadConfig,
  lookupSecret,
  secretLabel,
  type RuntimeEnv,
  type SecretLookup,
} from '@stepgate/config';
import { describeIssues } from '@stepgate/contracts';
import { consumerSettingsFields } from '@stepgate/kafka';
import { createLogger } from '@stepgate/observability';
import { z } from 'zod';

/** Methods this build can verify; the config may only name these. */
export const SUPPORTED_METHODS = ['totp', 'webauthn', 'recovery_code'] as const;
export type SupportedMethod = (typeof SUPPORTED_METHODS)[number];

// Coerced: a number may come from an ${ENV} reference, which is always a string.
const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'acr',
  'amr',
  'auth_time',
  'device_id',
  'sid',
  'typ',
  'cnf',
  'risk_level',
]);

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const port = int(0, 65535);
const seconds = int;
const methodList = z.array(z.enum(SUPPORTED_METHODS)).max(SUPPORTED_METHODS.length);
// Asymmetric only: a shared-secret algorithm in this list would let anyone holding the JWKS forge tokens.
const signatureAlgorithm = z.enum([
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
]);

const challengeSection = z.strictObject({
  http: z.strictObject({ host: z.string().min(1), port }),
  /** The bus consumer: handler failures (redelivery, then dead letter) and health bounds (libs/kafka). */
  kafka: z.strictObject(consumerSettingsFields).optional(),
  ttlSeconds: seconds(30, 3600),
  maxAttempts: int(1, 20),
  firstFactorEnrolment: z.enum(['seen-device', 'any-device', 'never']),
  enrolment: z
    .strictObject({
      /** What a stepped-up token must show to add a factor when one is already active. */
      stepUpAcr: z.string().min(1).default('urn:stepgate:acr:mfa'),
      stepUpMaxAgeSeconds: seconds(30, 3600).default(300),
      /** A pending factor must be activated within this time, from the device that enrolled it. */
      pendingTtlSeconds: seconds(60, 86_400).default(600),
      riskTimeoutMs: int(50, 10_000).default(1000),
      /** A first factor may be enrolled only this soon after the sign-in behind the token (auth_time). */
      firstFactorMaxAuthAgeSeconds: seconds(60, 86_400).default(900),
    })
    .prefault({}),
  /**
   * Consecutive failures a subject may make across all its challenges. After `freeFailures` each further one
   * makes the subject wait `baseDelaySeconds * 2^(n-1)` (capped at `maxDelaySeconds`) before the next attempt;
   * at `maxFailures` verification locks until `windowSeconds` pass without a failure. A pass resets the count.
   */
  subjectLockout: z
    .strictObject({
      // NIST SP 800-63B 5.2.2 allows at most 100 consecutive failures; we stay well under it.
      maxFailures: int(1, 99).default(20),
      windowSeconds: seconds(60, 86_400).default(900),
      freeFailures: int(0, 99).default(3),
      baseDelaySeconds: int(1, 3600).default(2),
      maxDelaySeconds: int(1, 86_400).default(300),
    })
    .prefault({}),
  /** Passkeys: the relying party is this deployment's public origin, never a loopback IP (WebAuthn refuses it). */
  webauthn: z
    .strictObject({
      rpId: z.string().min(1).max(253).default('localhost'),
      rpName: z.string().min(1).max(64).default('StepGate'),
      // One entry may hold several origins separated by commas, so one ${ENV} can name them all.
      origins: z
        .array(z.string().min(1))
        .min(1)
        .default(['http://localhost:8080'])
        .transform((list) => list.flatMap((o) => o.split(',').map((x) => x.trim())).filter(Boolean))
        .pipe(z.array(z.url({ protocol: /^https?$/ })).min(1)),
      timeoutSeconds: seconds(30, 600).default(120),
      /** Challenges requiring this acr or a stronger one need user verification (PIN, biometrics). */
      userVerificationAcr: z.string().min(1).default('urn:stepgate:acr:phr'),
    })
    .prefault({}),
  recoveryCodes: z.strictObject({ count: int(5, 20).default(10) }).prefault({}),
  tokens: z.strictObject({
    issuer: z.string().min(1),
    audience: z.string().min(1),
    ttlSeconds: seconds(30, 3600),
    /**
     * Claims copied from the access token the step-up began with, so that a route's `require` (groups,
     * tenant, ...) still holds for the stepped-up token that replaces it. Never the protocol's own claims.
     */
    carryClaims: z
      .array(
        z
          .string()
          .min(1)
          .refine((c) => !RESERVED_CLAIMS.has(c), 'a claim the stepped-up token sets itself'),
      )
      .default(['groups']),
  }),
  totp: z.strictObject({
    issuer: z.string().min(1).max(64),
    digits: int(6, 8),
    periodSeconds: seconds(15, 120),
    window: int(0, 1),
  }),
  /**
   * The strongest acr each method can attest: TOTP and recovery codes are phishable, so they must not satisfy a
   * phishing-resistant level. A challenge at or above webauthn.userVerificationAcr needs user verification.
   */
  methodAcr: z
    .strictObject({
      totp: z.string().min(1).default('urn:stepgate:acr:mfa'),
      webauthn: z.string().min(1).default('urn:stepgate:acr:phr'),
      recovery_code: z.string().min(1).default('urn:stepgate:acr:mfa'),
    })
    .prefault({}),
  methods: z.strictObject({ low: methodList, medium: methodList, high: methodList, critical: methodList }),
});

const issuer = z.object({
  issuer: z.string().min(1),
  jwksUri: z.url({ protocol: /^https?$/ }),
  audience: z.string().min(1),
  algorithms: z.array(signatureAlgorithm).min(1),
});

/**
 * The challenge service's view of the file: its own section strictly, what it reads of the gateway's section
 * and the policy, and the rules across them; other sections pass.
 */
export const challengeConfigSchema = z
  .object({
    // Read from the gateway's section: the bearer tokens this service accepts are the ones the gateway accepts.
    gateway: z.object({
      issuers: z.array(issuer).min(1),
      clockSkewSeconds: seconds(0, 300).default(30),
      // How the gateway expects this service's tokens; checked below so a mismatch fails at start, not per request.
      challenge: z.object({ issuer: z.string(), audience: z.string() }).optional(),
    }),
    policy: z.object({ acr: z.object({ levels: z.array(z.string().min(1)).min(1) }) }),
    challenge: challengeSection,
  })
  .superRefine((c, ctx) => {
    const known = new Set(c.policy.acr.levels);
    const check = (value: string, path: (string | number)[]) => {
      if (!known.has(value))
        ctx.addIssue({ code: 'custom', path, message: `"${value}" is not one of policy.acr.levels` });
    };
    check(c.challenge.enrolment.stepUpAcr, ['challenge', 'enrolment', 'stepUpAcr']);
    for (const method of SUPPORTED_METHODS)
      check(c.challenge.methodAcr[method], ['challenge', 'methodAcr', method]);
    check(c.challenge.webauthn.userVerificationAcr, ['challenge', 'webauthn', 'userVerificationAcr']);
    const lockout = c.challenge.subjectLockout;
    if (lockout.freeFailures >= lockout.maxFailures) {
      ctx.addIssue({
        code: 'custom',
        path: ['challenge', 'subjectLockout', 'freeFailures'],
        message: `must be below maxFailures (${lockout.maxFailures}), or failures would never slow down`,
      });
    }
    const expected = c.gateway.challenge;
    for (const claim of ['issuer', 'audience'] as const) {
      if (expected && expected[claim] !== c.challenge.tokens[claim]) {
        ctx.addIssue({
          code: 'custom',
          path: ['challenge', 'tokens', claim],
          message: `"${c.challenge.tokens[claim]}" differs from gateway.challenge.${claim} "${expected[claim]}": the gateway would refuse every stepped-up token`,
        });
      }
    }
  });

type FileConfig = z.infer<typeof challengeConfigSchema>;
export type ChallengeSection = FileConfig['challenge'];
export type IssuerConfig = FileConfig['gateway']['issuers'][number];

export interface FactorKey {
  id: string;
  key: Buffer;
}

export interface ChallengeSecrets {
  /** The key new secrets are encrypted with, and retired keys still needed to decrypt old rows; null in development. */
  factorKeys: { current: FactorKey; previous: FactorKey[] } | null;
  /** A private EC P-256 JWK; null means generate one and share it through the database. */
  signingJwk: SigningJwk | null;
}

/** DI token for the loaded ChallengeConfig. */
export const CHALLENGE_CONFIG = Symbol('CHALLENGE_CONFIG');

export interface ChallengeConfig {
  challenge: ChallengeSection;
  issuers: IssuerConfig[];
  clockSkewSeconds: number;
  acrLevels: string[];
  secrets: ChallengeSecrets;
}

const signingJwk = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string().min(1),
  y: z.string().min(1),
  d: z.string().min(1),
  kid: z.string().min(1).max(128).optional(),
});
export type SigningJwk = z.infer<typeof signingJwk>;

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Loads and validates everything at once; throws ConfigError listing every problem of the file and the
 * environment. A secret taken from the demo secrets directory is announced (once per process) to `warn`.
 */
export function loadChallengeConfig(
  runtime: RuntimeEnv,
  warn: (message: string) => void = (message) => {
    createLogger('challenge', runtime.env).warn(message, 'ChallengeSecrets');
  },
): ChallengeConfig {
  const problems: string[] = [];
  let file: FileConfig | undefined;
  try {
    file = loadConfig(challengeConfigSchema, { file: runtime.configFile, env: runtime.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const { secrets, lookups } = readSecrets(runtime.env, problems);
  if (!file || problems.length > 0)
    throw new ConfigError(`${runtime.configFile} and the environment`, problems);
  announceDemoSecrets(lookups, warn);
  return {
    challenge: file.challenge,
    issuers: file.gateway.issuers,
    clockSkewSeconds: file.gateway.clockSkewSeconds,
    acrLevels: file.policy.acr.levels,
    secrets,
  };
}

function readSecrets(
  env: Record<string, string | undefined>,
  problems: string[],
): { secrets: ChallengeSecrets; lookups: SecretLookup[] } {
  const factor = lookupSecret(env, 'STEPGATE_FACTOR_KEY');
  // Optional: without it the service generates one and shares it through the database (tokens/signing-keys.ts).
  const signing = lookupSecret(env, 'STEPGATE_TOKEN_SIGNING_KEY', { optional: true });
  let current: FactorKey | null = null;
  if (factor.source !== 'none') {
    // Empty is unset, as for every variable: compose passes one the operator did not give as "".
    current = parseKey(secretLabel(factor), factor.value, env.STEPGATE_FACTOR_KEY_ID || undefined, problems);
  } else if (factor.problem) {
    problems.push(factor.problem);
  } else if (env.NODE_ENV === 'production') {
    problems.push('STEPGATE_FACTOR_KEY: required when NODE_ENV=production (base64 of 32 random bytes)');
  }
  const previous = (env.STEPGATE_FACTOR_PREVIOUS_KEYS ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .flatMap((entry) => {
      const [id, material] = entry.split(':', 2);
      if (!id || !material) {
        problems.push('STEPGATE_FACTOR_PREVIOUS_KEYS: expected a comma-separated list of keyId:base64');
        return [];
      }
      const key = parseKey('STEPGATE_FACTOR_PREVIOUS_KEYS', material, id, problems);
      return key ? [key] : [];
    });
  if (previous.length > 0 && factor.source === 'none') {
    problems.push('STEPGATE_FACTOR_PREVIOUS_KEYS: set only together with STEPGATE_FACTOR_KEY');
  }
  if (signing.source === 'none' && signing.problem) problems.push(signing.problem);
  return {
    secrets: {
      factorKeys: current ? { current, previous } : null,
      signingJwk:
        signing.source === 'none' ? null : parseSigningJwk(secretLabel(signing), signing.value, problems),
    },
    lookups: [factor, signing],
  };
}

function parseKey(
  name: string,
  base64: string,
  id: string | undefined,
  problems: string[],
): FactorKey | null {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== base64.trim().replace(/=+$/, '')) {
    problems.push(`${name}: must be the base64 encoding of exactly 32 bytes`);
    return null;
  }
  if (id !== undefined && !KEY_ID.test(id)) {
    problems.push(`${name}: key id "${id}" must match ${KEY_ID.source}`);
    return null;
  }
  return { id: id ?? derivedKeyId(key), key };
}

/** A stable id that names a key without revealing it, so rows say which key encrypted them. */
export function derivedKeyId(key: Buffer): string {
  return `k-${createHash('sha256').update('stepgate-factor-key-id\0').update(key).digest('hex').slice(0, 16)}`;
}

function parseSigningJwk(label: string, text: string, problems: string[]): SigningJwk | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    problems.push(`${label}: not valid JSON (expected a private EC P-256 JWK)`);
    return null;
  }
  const result = signingJwk.safeParse(raw);
  if (!result.success) {
    problems.push(`${label}: not a private EC P-256 JWK (${describeIssues(result.error)})`);
    return null;
  }
  return result.data;
}
