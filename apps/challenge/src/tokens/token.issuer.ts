// Issues stepped-up tokens: short-lived, bound to the device that passed the challenge (and to its DPoP key,
// RFC 9449 cnf.jkt, when it proved one), saying what they prove (acr, amr) and the risk level they were minted
// for, in the shape the gateway's TokenVerifier (libs/identity) accepts.
import { Inject, Injectable } from '@nestjs/common';
import type { RiskLevel } from '@stepgate/contracts';
import { STEP_UP_TOKEN_TYPE } from '@stepgate/identity';
import { SignJWT } from 'jose';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../config';
import { newId } from '../ids';
import { SIGNING_ALGORITHM, SigningKeys } from './signing-keys';

export interface StepUpGrant {
  subject: string;
  /** What the passed method attests, never only what the route asked for. */
  acr: string;
  amr: string[];
  deviceId: string;
  sessionId: string | null;
  /** The route's freshness requirement: the token never outlives it. */
  maxAgeSeconds: number;
  /** The risk level the challenge was opened for (`risk_level`). */
  riskLevel: RiskLevel;
  /** The DPoP key thumbprint to bind the token to (`cnf.jkt`), or null for a Bearer token. */
  jkt: string | null;
  /** Claims carried over from the access token (challenge.tokens.carryClaims). */
  carried?: Record<string, unknown>;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
}

@Injectable()
export class TokenIssuer {
  constructor(
    private readonly keys: SigningKeys,
    @Inject(CHALLENGE_CONFIG) private readonly config: ChallengeConfig,
  ) {}

  async issue(grant: StepUpGrant, nowMs: number): Promise<IssuedToken> {
    const { issuer, audience, ttlSeconds } = this.config.challenge.tokens;
    const now = Math.floor(nowMs / 1000);
    const expiresIn = Math.max(1, Math.min(ttlSeconds, grant.maxAgeSeconds));
    const claims: Record<string, unknown> = {
      ...grant.carried,
      acr: grant.acr,
      amr: grant.amr,
      auth_time: now,
      device_id: grant.deviceId,
      risk_level: grant.riskLevel,
    };
    if (grant.jkt !== null) claims.cnf = { jkt: grant.jkt };
    else delete claims.cnf;
    if (grant.sessionId) claims.sid = grant.sessionId;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, typ: STEP_UP_TOKEN_TYPE, kid: this.keys.kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(grant.subject)
      .setIssuedAt(now)
      .setExpirationTime(now + expiresIn)
      .setJti(newId(16))
      .sign(this.keys.privateKey);
    return { token, expiresIn };
  }
}
