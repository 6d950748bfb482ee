import {
  Body,
  Controller,
  Delete,
  Header,
  HttpCode,
  Param,
  Post,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { ZodBody } from '@stepgate/observability';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { BearerGuard } from '../http/bearer.guard';
import { type Caller, CurrentCaller } from '../http/caller';
import { challengeHttpErrors } from '../http/challenge-errors.filter';
import { CsrfGuard } from '../http/csrf.guard';
import {
  activateFactorBody,
  type ActivateFactorBody,
  type ActivateFactorResponse,
  type EnrolTotpResponse,
} from './dto/activate-factor.dto';
import { registerPasskeyBody, type RegisterPasskeyBody } from './dto/webauthn.dto';
import { EnrolmentService } from './enrolment.service';

@Controller('.stepgate/factors')
@UseGuards(BearerGuard, CsrfGuard)
@UseFilters(challengeHttpErrors)
export class FactorsHttpController {
  constructor(private readonly enrolment: EnrolmentService) {}

  @Post('totp')
  @Header('Cache-Control', 'no-store')
  async enrolTotp(@CurrentCaller() caller: Caller): Promise<EnrolTotpResponse> {
    const { factor, secret, otpauthUri } = await this.enrolment.enrolTotp(caller, Date.now());
    return { id: factor.id, secret, otpauth_uri: otpauthUri };
  }

  @Post('totp/:id/activate')
  @HttpCode(200)
  async activateTotp(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Body(new ZodBody(activateFactorBody)) body: ActivateFactorBody,
  ): Promise<ActivateFactorResponse> {
    const factor = await this.enrolment.activateTotp(caller, id, body.code, Date.now());
    return { id: factor.id, status: 'active' };
  }

  @Delete('totp/:id')
  async removeTotp(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<RemovedResponse> {
    await this.enrolment.removeTotp(caller, id, Date.now());
    return { id, status: 'removed' };
  }

  /** Options for navigator.credentials.create(); the same enrolment rules as TOTP apply here. */
  @Post('webauthn/registration/options')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  passkeyOptions(@CurrentCaller() caller: Caller): Promise<PublicKeyCredentialCreationOptionsJSON> {
    return this.enrolment.passkeyOptions(caller, Date.now());
  }

  @Post('webauthn/registration/verify')
  async registerPasskey(
    @CurrentCaller() caller: Caller,
    @Body(new ZodBody(registerPasskeyBody)) body: RegisterPasskeyBody,
  ): Promise<{ id: string; label: string; status: 'active' }> {
    const credential = await this.enrolment.registerPasskey(caller, body, Date.now());
    return { id: credential.id, label: credential.label, status: 'active' };
  }

  @Delete('webauthn/:id')
  async removePasskey(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<RemovedResponse> {
    await this.enrolment.removePasskey(caller, id, Date.now());
    return { id, status: 'removed' };
  }

  /** A new batch, shown this once: only keyed hashes are kept. */
  @Post('recovery-codes')
  @Header('Cache-Control', 'no-store')
  async generateRecoveryCodes(@CurrentCaller() caller: Caller): Promise<{ codes: string[] }> {
    const { codes } = await this.enrolment.generateRecoveryCodes(caller, Date.now());
    return { codes };
  }

  @Delete('recovery-codes')
  async removeRecoveryCodes(@CurrentCaller() caller: Caller): Promise<{ removed: number }> {
    return { removed: await this.enrolment.removeRecoveryCodes(caller, Date.now()) };
  }
}

interface RemovedResponse {
  id: string;
  status: 'removed';
}
