import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { DevIssuerConfig } from './config';
import type { DevIssuerKey } from './dev-issuer.keys';

export interface DevTokenRequest {
  sub: string;
  acr?: string;
  ttlSeconds?: number;
  sid?: string;
  claims?: Record<string, unknown>;
  /** Bind the token to this DPoP key thumbprint (RFC 9449 `cnf.jkt`). */
  jkt?: string;
}

/**
 * A signed RFC 9068-style access token, as a real issuer's login would produce (password level); bound to a
 * DPoP key when the request names one, as an issuer does for a DPoP token request (RFC 9449 6).
 */
export async function signDevToken(
  config: DevIssuerConfig,
  key: DevIssuerKey,
  req: DevTokenRequest,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const groups = config.groups[req.sub];
  return new SignJWT({
    ...(groups && groups.length > 0 ? { groups } : {}),
    ...req.claims,
    acr: req.acr ?? 'urn:stepgate:acr:basic',
    amr: ['pwd'],
    auth_time: now,
    sid: req.sid ?? randomUUID(),
    scope: 'openid',
    ...(req.jkt === undefined ? {} : { cnf: { jkt: req.jkt } }),
  })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setSubject(req.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + (req.ttlSeconds ?? config.tokenTtlSeconds))
    .setJti(randomUUID())
    .sign(key.privateKey);
}
