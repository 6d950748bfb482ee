import { Body, Controller, Header, HttpCode, Param, Post, UseFilters, UseGuards } from '@nestjs/common';
import { ZodBody } from '@stepgate/observability';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { BearerGuard } from '../http/bearer.guard';
import { type Caller, CurrentCaller } from '../http/caller';
import { challengeHttpErrors } from '../http/challenge-errors.filter';
import { ChallengeScopedCsrf, CsrfGuard } from '../http/csrf.guard';
import { ChallengesService } from './challenges.service';
import {
  verifyChallengeBody,
  type VerifyChallengeBody,
  type VerifyChallengeResponse,
} from './dto/verify-challenge.dto';

@Controller('.stepgate/challenges')
@UseGuards(BearerGuard, CsrfGuard)
@ChallengeScopedCsrf()
@UseFilters(challengeHttpErrors)
export class ChallengesHttpController {
  constructor(private readonly challenges: ChallengesService) {}

  @Post(':id/verify')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async verify(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Body(new ZodBody(verifyChallengeBody)) body: VerifyChallengeBody,
  ): Promise<VerifyChallengeResponse> {
    const passed = await this.challenges.verify(id, caller, body, Date.now());
    return {
      access_token: passed.token,
      token_type: passed.tokenType,
      expires_in: passed.expiresIn,
      acr: passed.acr,
      ...(passed.returnTo ? { return_to: passed.returnTo } : {}),
    };
  }

  /** Options for navigator.credentials.get(): a fresh WebAuthn challenge bound to this step-up challenge. */
  @Post(':id/webauthn/options')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  webauthnOptions(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return this.challenges.webauthnOptions(id, caller, Date.now());
  }
}
