// The pages a person sees: the challenge (method choice, code entry, passkey button, why they are asked),
// their factors (passkey registration, authenticator app with a QR code, removal), and recovery codes (shown
// once). Authenticated exactly like the API: the gateway forwards the session's bearer and device.
import { Controller, Get, Inject, Param, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { safeReturnTo } from '@stepgate/redirect';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toString as qrCode } from 'qrcode';
import { ChallengesService } from '../challenges/challenges.service';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../config';
import { EnrolmentService } from '../factors/enrolment.service';
import { BearerGuard } from '../http/bearer.guard';
import { type Caller, CurrentCaller } from '../http/caller';
import { CsrfTokens } from '../http/csrf';
import { CsrfGuard } from '../http/csrf.guard';
import { RiskClient } from '../risk/risk.client';
import { sendPage } from './html';
import { PageErrorsFilter } from './page-errors.filter';
import {
  challengePage,
  factorsPage,
  messagePage,
  recoveryCodesPage,
  recoveryCodesShownPage,
  totpSetupPage,
} from './views';

const FACTORS = '/.stepgate/factors';

@Controller('.stepgate')
@UseGuards(BearerGuard, CsrfGuard)
@UseFilters(PageErrorsFilter)
export class PagesHttpController {
  constructor(
    private readonly challenges: ChallengesService,
    private readonly enrolment: EnrolmentService,
    private readonly csrf: CsrfTokens,
    private readonly risk: RiskClient,
    @Inject(CHALLENGE_CONFIG) private readonly config: ChallengeConfig,
  ) {}

  /** Where the gateway's step-up redirect lands: `/.stepgate/challenges/{id}?return_to=<path>`. */
  @Get('challenges/:id')
  async challenge(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Query('return_to') returnTo: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const nowMs = Date.now();
    const view = await this.challenges.view(id, caller, nowMs);
    const csrfToken = this.csrf.issue(bindingOf(caller, `challenge:${view.challenge.id}`), nowMs);
    await sendPage(reply, 200, challengePage({ view, csrfToken, returnTo: safeReturnTo(returnTo) ?? '/' }));
  }

  @Get('factors')
  async factors(
    @CurrentCaller() caller: Caller,
    @Query('done') done: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const nowMs = Date.now();
    const summary = await this.enrolment.summary(caller.token.subject);
    await sendPage(
      reply,
      200,
      factorsPage({
        summary,
        csrfToken: this.factorsToken(caller, nowMs),
        canChange: this.enrolment.hasFreshStepUp(caller, nowMs),
        done: typeof done === 'string' ? done : undefined,
      }),
    );
  }

  @Post('factors/totp/setup')
  async totpSetup(@CurrentCaller() caller: Caller, @Res() reply: FastifyReply): Promise<void> {
    const nowMs = Date.now();
    const { factor, secret, otpauthUri } = await this.enrolment.enrolTotp(caller, nowMs);
    const qrSvg = (await qrCode(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })).replace(
      '<svg ',
      '<svg role="img" aria-label="QR code for your authenticator app" ',
    );
    await sendPage(
      reply,
      200,
      totpSetupPage({ factorId: factor.id, secret, qrSvg, csrfToken: this.factorsToken(caller, nowMs) }),
    );
  }

  @Post('factors/totp/:id/remove')
  async removeTotp(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.enrolment.removeTotp(caller, id, Date.now());
    await seeOther(reply, `${FACTORS}?done=removed`);
  }

  @Post('factors/webauthn/:id/remove')
  async removePasskey(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.enrolment.removePasskey(caller, id, Date.now());
    await seeOther(reply, `${FACTORS}?done=removed`);
  }

  @Get('factors/recovery-codes')
  async recoveryCodes(@CurrentCaller() caller: Caller, @Res() reply: FastifyReply): Promise<void> {
    const nowMs = Date.now();
    const { recoveryCodesLeft } = await this.enrolment.summary(caller.token.subject);
    await sendPage(
      reply,
      200,
      recoveryCodesPage({
        left: recoveryCodesLeft,
        csrfToken: this.factorsToken(caller, nowMs),
        canGenerate: this.enrolment.hasFreshStepUp(caller, nowMs),
      }),
    );
  }

  /** The only time the codes exist in clear: this response (not cached). */
  @Post('factors/recovery-codes/new')
  async newRecoveryCodes(@CurrentCaller() caller: Caller, @Res() reply: FastifyReply): Promise<void> {
    const { codes } = await this.enrolment.generateRecoveryCodes(caller, Date.now());
    await sendPage(reply, 201, recoveryCodesShownPage(codes));
  }

  /**
   * Opens a step-up challenge for a factor change, judged by risk like any other (fails closed without risk),
   * and sends the browser to it; passing it brings the person back with a fresh stepped-up session.
   */
  @Post('factors/step-up')
  async stepUp(
    @CurrentCaller() caller: Caller,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const nowMs = Date.now();
    const returnTo =
      safeReturnTo((request.body as Record<string, unknown> | undefined)?.return_to) ?? FACTORS;
    const { stepUpAcr, stepUpMaxAgeSeconds } = this.config.challenge.enrolment;
    const assessment = await this.risk.assess(caller, 'step-up for a factor change');
    const opened = await this.challenges.open(
      {
        correlationId: caller.correlationId,
        subject: caller.token.subject,
        sessionId: caller.token.sessionId,
        deviceId: caller.deviceId,
        route: 'stepgate.factors',
        requiredAcr: stepUpAcr,
        maxAgeSeconds: stepUpMaxAgeSeconds,
        risk: { score: assessment.score, level: assessment.level, signals: assessment.signals },
      },
      nowMs,
    );
    if (opened.status !== 'open') {
      await sendPage(
        reply,
        403,
        messagePage({
          title: 'Changes are not possible right now',
          message: `We cannot confirm it’s you right now: ${opened.reason}.`,
        }),
      );
      return;
    }
    await seeOther(
      reply,
      `/.stepgate/challenges/${encodeURIComponent(opened.challengeId)}?return_to=${encodeURIComponent(returnTo)}`,
    );
  }

  private factorsToken(caller: Caller, nowMs: number): string {
    return this.csrf.issue(bindingOf(caller, 'factors'), nowMs);
  }
}

const bindingOf = (caller: Caller, scope: string) => ({
  subject: caller.token.subject,
  deviceId: caller.deviceId,
  sessionId: caller.token.sessionId,
  scope,
});

function seeOther(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header('location', location).header('cache-control', 'no-store').send();
}
