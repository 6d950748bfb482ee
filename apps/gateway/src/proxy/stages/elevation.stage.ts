// A browser's challenge verification, forwarded to the challenge service and read back: a pass becomes a new,
// elevated session cookie, never a token in the page; anything else is relayed as the service answered.
import { Injectable } from '@nestjs/common';
import { TokenVerifier, type VerifiedToken } from '@stepgate/identity';
import { SESSION_COOKIE, SessionCodec } from '../../auth/session';
import { SessionRevocations } from '../../auth/session-revocations';
import { UpstreamForwarder } from '../upstream.forwarder';
import { respond, type Forward, type Judgement, type RequestContext } from './judgement';

@Injectable()
export class ElevationStage {
  constructor(
    private readonly forwarder: UpstreamForwarder,
    private readonly verifier: TokenVerifier,
    private readonly sessions: SessionCodec,
    private readonly revocations: SessionRevocations,
  ) {}

  /** The answer to a verification the pipeline judged (a Forward with `elevate`). */
  async elevate(ctx: RequestContext, judged: Judgement & { answer: Forward }): Promise<Judgement> {
    const e = judged.answer.elevate!;
    const answer = await this.forwarder.exchange(judged.answer.forward);
    let stepUp: VerifiedToken | null = null;
    let raw: string | null = null;
    if (answer.status === 200) {
      try {
        const body = JSON.parse(answer.body.toString('utf8')) as { access_token?: unknown };
        raw = typeof body.access_token === 'string' ? body.access_token : null;
        stepUp = raw ? await this.verifier.verify(raw) : null;
      } catch {
        stepUp = null;
      }
    }
    if (
      !stepUp ||
      !raw ||
      stepUp.kind !== 'stepup' ||
      stepUp.subject !== e.session.sub ||
      stepUp.deviceId !== e.deviceId
    ) {
      if (answer.status === 200) {
        return {
          ...judged,
          answer: respond(502, {
            error: 'bad_gateway',
            message: 'the challenge service answer was not usable',
          }),
          facts: { ...judged.facts, reason: 'challenge answer not usable' },
        };
      }
      return { ...judged, answer: respond(answer.status, answer.body, answer.headers) };
    }
    const now = Math.floor(Date.now() / 1000);
    // A new session id on elevation; the absolute timeout still counts from sign-in.
    const elevated = this.sessions.newSession(
      {
        sub: e.session.sub,
        accessToken: e.session.accessToken,
        stepUpToken: raw,
        acr: stepUp.acr,
        authTime: stepUp.authTime,
      },
      now,
      e.session.createdAt,
    );
    // The elevated session replaces any session cookie this request was to carry.
    const cookies = [
      ...judged.cookies.filter((c) => !c.startsWith(`${SESSION_COOKIE}=`)),
      this.sessions.cookie(await this.sessions.seal(elevated)),
    ];
    // The replaced cookie stops working everywhere, not only in this browser.
    await this.revocations.revoke(e.session, 'elevated', ctx.correlationId);
    const facts = { ...judged.facts, reason: 'step-up passed; session elevated', token: stepUp };
    const noStore = { 'cache-control': 'no-store' };
    return {
      facts,
      cookies,
      answer: e.html
        ? respond(303, undefined, { ...noStore, location: e.returnTo })
        : respond(200, { status: 'passed', return_to: e.returnTo }, noStore),
    };
  }
}
