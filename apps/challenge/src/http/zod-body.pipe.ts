import type { PipeTransform } from '@nestjs/common';
import { describeIssues } from '@stepgate/contracts';
import type { z } from 'zod';
import { InvalidRequest } from './http.errors';

/** `@Body(new ZodBody(schema))`: the parsed body, or a 400 that says what is wrong with it. */
export class ZodBody<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    const result = this.schema.safeParse(value);
    if (!result.success) throw new InvalidRequest(describeIssues(result.error));
    return result.data;
  }
}
