import { Body, Controller, Header, HttpCode, Param, Post, UseFilters, UseGuards } from '@nestjs/common';
import { HttpExceptionFilter } from '@stepgate/observability';
import { BearerGuard } from '../http/bearer.guard';
import { type Caller, CurrentCaller } from '../http/caller';
import { ZodBody } from '../http/zod-body.pipe';
import {
  activateFactorBody,
  type ActivateFactorBody,
  type ActivateFactorResponse,
  type EnrolTotpResponse,
} from './dto/activate-factor.dto';
import { EnrolmentService } from './enrolment.service';

@Controller('.stepgate/factors')
@UseGuards(BearerGuard)
@UseFilters(HttpExceptionFilter)
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
}
