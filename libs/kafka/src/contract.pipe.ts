// Validates an inbound message against its contract at the boundary; what fails never reaches a service.
import { type PipeTransform } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { describeIssues, schemaFor } from '@stepgate/contracts';

export class InvalidMessageError extends Error {
  readonly code = 'invalid_message';
}

export class ContractPipe implements PipeTransform {
  constructor(private readonly pattern: string) {
    if (!schemaFor(pattern)) throw new Error(`no contract for ${pattern}`);
  }

  transform(value: unknown): unknown {
    if (typeof value === 'string' || Buffer.isBuffer(value)) {
      throw new InvalidMessageError(`value is not a JSON object (${String(value).slice(0, 80)})`);
    }
    const result = schemaFor(this.pattern)!.safeParse(value);
    if (!result.success) throw new InvalidMessageError(describeIssues(result.error));
    return result.data;
  }
}

/** `@ValidPayload(TOPICS.access) event: AccessEvent`: the payload, validated against the topic's contract. */
export const ValidPayload = (pattern: string): ParameterDecorator => Payload(new ContractPipe(pattern));
