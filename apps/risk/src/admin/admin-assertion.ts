// Who is changing the policy: the gateway's X-StepGate-Assertion on a request it forwarded through the admin
// route (admins only, stepped up), verified against the gateway's keys (libs/identity's assertion verifier).
// Risk's port is private, but a change must still prove it came through that route: no assertion, no change
// (fail closed).
import { Inject, Injectable } from '@nestjs/common';
import { IdentityAssertionError, IdentityAssertionVerifier } from '@stepgate/identity';
import { DomainError, Forbidden, type HttpStatusList, Unauthenticated } from '@stepgate/observability';
import { acrRank, type RoutePolicySection } from '@stepgate/policy';
import { RISK_CONFIG, type RiskConfig } from '../config';

export interface PolicyAuthor {
  subject: string;
  acr: string;
}

@Injectable()
export class AdminAssertions {
  private readonly verifier: IdentityAssertionVerifier;

  constructor(@Inject(RISK_CONFIG) private readonly config: RiskConfig) {
    const { issuer, audience, jwksUri } = config.admin.assertion;
    this.verifier = new IdentityAssertionVerifier({ issuer, audience, jwks: jwksUri });
  }

  /**
   * The verified author of a change. The assertion must have been signed by the gateway for the admin
   * upstream, on a route to that upstream in `policy` (the newest version's), with an acr at or above
   * `risk.admin.changeAcr` in its acr levels. 401 without a valid assertion, 403 when it is not strong enough
   * or came through another route; fail closed when the levels do not even contain changeAcr.
   */
  async authorOf(header: string | string[] | undefined, policy: RoutePolicySection): Promise<PolicyAuthor> {
    if (typeof header !== 'string' || header.length === 0)
      throw new Unauthenticated(
        "a policy change must come through the gateway's admin route (/.stepgate/admin/policy): no identity assertion",
      );
    let verified;
    try {
      verified = await this.verifier.verify(header);
    } catch (err) {
      if (err instanceof IdentityAssertionError) throw new Unauthenticated(err.message);
      throw err;
    }
    const { subject: sub, claims } = verified;
    const { acr, route } = claims;
    if (typeof acr !== 'string') throw new Unauthenticated('the identity assertion names no subject or acr');
    const { changeAcr, upstream } = this.config.admin;
    const admitted = policy.routes.some((r) => r.id === route && r.upstream === upstream);
    if (!admitted)
      throw new Forbidden(
        `a policy change must come through a route to the ${upstream} upstream; this one came through ${JSON.stringify(route ?? null)}`,
      );
    const { levels } = policy.acr;
    const needed = acrRank(levels, changeAcr);
    const have = acrRank(levels, acr);
    if (needed < 0)
      throw new PolicyLocked(
        `risk.admin.changeAcr "${changeAcr}" is not in policy.acr.levels: no change can be authorised (fix the config file)`,
      );
    if (have < needed) throw new InsufficientAuthentication(changeAcr, acr);
    return { subject: sub, acr };
  }
}

/** No acr can authorise a change: the configuration names a changeAcr its acr levels do not have. */
export class PolicyLocked extends DomainError {
  constructor(message: string) {
    super('policy_locked', message);
  }
}

/** The author's sign-in is not strong enough; `acr_values` says what is (RFC 9470). */
export class InsufficientAuthentication extends DomainError {
  constructor(needed: string, has: string) {
    super(
      'insufficient_user_authentication',
      `changing the policy needs acr ${needed} or stronger; the request has ${has}`,
      { acr_values: needed },
    );
  }
}

export const ASSERTION_HTTP_STATUSES: HttpStatusList = [
  [PolicyLocked, 403],
  [InsufficientAuthentication, 403],
];
