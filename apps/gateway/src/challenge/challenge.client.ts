// Opens a step-up challenge with the challenge service (request/reply), carrying the risk snapshot.
import { Injectable } from '@nestjs/common';
import { REQUESTS, type CreateChallengeReply, type CreateChallengeRequest } from '@stepgate/contracts';
import { MessageBus } from '@stepgate/kafka';

const CHALLENGE_TIMEOUT_MS = 2_000;

@Injectable()
export class ChallengeClient {
  constructor(private readonly bus: MessageBus) {}

  /** The reply, or null when the challenge service did not answer. */
  async open(request: CreateChallengeRequest): Promise<CreateChallengeReply | null> {
    try {
      return await this.bus.request(REQUESTS.createChallenge, request, CHALLENGE_TIMEOUT_MS);
    } catch {
      return null;
    }
  }
}
