// The token CLI's arguments, parsed and checked: the request for one dev access token.
import { parseArgs } from 'node:util';
import { isJkt } from '@stepgate/identity';
import type { DevTokenRequest } from './dev-token';

export const TOKEN_USAGE = [
  'usage: npm run -s token -- --sub SUBJECT [--acr URN] [--ttl SECONDS] [--sid ID] [--group G ...]',
  '                          [--dpop-jkt THUMBPRINT]',
  "  --dpop-jkt  bind the token to a DPoP key (cnf.jkt, RFC 9449): the key's RFC 7638 SHA-256 thumbprint,",
  '              base64url (43 characters). Send it as `Authorization: DPoP <token>` with a proof of that key.',
].join('\n');

// An RFC 7638 SHA-256 thumbprint: 32 bytes, base64url without padding.

const OPTIONS = {
  sub: { type: 'string' },
  acr: { type: 'string' },
  ttl: { type: 'string' },
  sid: { type: 'string' },
  group: { type: 'string', multiple: true },
  'dpop-jkt': { type: 'string' },
} as const;

/**
 * `--name value` as `--name=value` for every option that takes one: parseArgs refuses a separate value that
 * starts with `-`, and one thumbprint in 64 does (base64url), as may a subject.
 */
function joinValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : null;
    if (name !== null && name in OPTIONS && i + 1 < args.length) out.push(`${arg}=${args[++i]!}`);
    else out.push(arg);
  }
  return out;
}

export function parseTokenArgs(args: string[]): DevTokenRequest {
  const { values } = parseArgs({ args: joinValues(args), options: OPTIONS, strict: true });
  if (!values.sub) throw new Error(TOKEN_USAGE);
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0))
    throw new Error('--ttl must be a positive integer');
  const jkt = values['dpop-jkt'];
  if (jkt !== undefined && !isJkt(jkt))
    throw new Error('--dpop-jkt must be an RFC 7638 SHA-256 thumbprint: 43 characters of base64url');
  return {
    sub: values.sub,
    acr: values.acr,
    ttlSeconds: ttl,
    sid: values.sid,
    claims: values.group ? { groups: values.group } : undefined,
    jkt,
  };
}
