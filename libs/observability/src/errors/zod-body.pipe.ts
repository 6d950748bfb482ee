import type { PipeTransform } from '@nestjs/common';
import { describeIssues } from '@stepgate/contracts';
import type { z } from 'zod';
import { type DomainError, InvalidRequest } from './domain.error';

/**
 * `@Body(new ZodBody(schema))`: the parsed body, or an InvalidRequest that says what is wrong with it (every
 * problem, with its path). `refusal` words it otherwise where an API already promised other words.
 */
export class ZodBody<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    private readonly refusal: (error: z.ZodError) => DomainError = (error) =>
      new InvalidRequest(describeIssues(error)),
  ) {}

  transform(value: unknown): z.infer<S> {
    const result = this.schema.safeParse(value);
    if (!result.success) throw this.refusal(result.error);
    return result.data;
  }
}

/** The refusal that also lists each problem (`problems`), for clients that show them one by one. */
export function invalidRequestListing(error: z.ZodError): InvalidRequest {
  const problems = error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
  return new InvalidRequest(problems.join('; '), { problems });
}
