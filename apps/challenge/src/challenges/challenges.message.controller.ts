import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { REQUESTS, type CreateChallengeReply, type CreateChallengeRequest } from '@stepgate/contracts';
import { ValidPayload } from '@stepgate/kafka';
import { RpcErrorsFilter } from '@stepgate/observability';
import { ChallengesService } from './challenges.service';

/** The gateway's request to open a challenge; the payload is validated against its contract first. */
@Controller()
@UseFilters(new RpcErrorsFilter())
export class ChallengesMessageController {
  constructor(private readonly challenges: ChallengesService) {}

  @MessagePattern(REQUESTS.createChallenge)
  create(
    @ValidPayload(REQUESTS.createChallenge) request: CreateChallengeRequest,
  ): Promise<CreateChallengeReply> {
    return this.challenges.open(request, Date.now());
  }
}
