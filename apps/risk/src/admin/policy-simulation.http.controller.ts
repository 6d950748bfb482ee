// POST /admin/policy/simulate: backtests a candidate policy against the recorded accesses. On the private
// risk port (unauthenticated); the gateway exposes it to admins behind a step-up.
import { Body, Controller, HttpCode, Post, UseFilters } from '@nestjs/common';
import { DomainError, HttpExceptionFilter } from '@stepgate/observability';
import { z } from 'zod';
import type { BacktestReport } from '../backtest/backtest.engine';
import { BacktestService } from '../backtest/backtest.service';

const time = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z',
});

const simulateBody = z
  .strictObject({
    /** Any part of the config file's `risk:` and `policy:` sections, as JSON. */
    candidate: z.record(z.string(), z.unknown(), { error: 'must be an object: parts of risk: and policy:' }),
    from: time.optional(),
    to: time.optional(),
    sample: z.int().min(0).max(500).optional(),
  })
  .refine((b) => !b.from || !b.to || Date.parse(b.from) < Date.parse(b.to), {
    message: 'must be after from',
    path: ['to'],
  });

@Controller('admin/policy')
@UseFilters(HttpExceptionFilter)
export class PolicySimulationHttpController {
  constructor(private readonly backtests: BacktestService) {}

  @Post('simulate')
  @HttpCode(200)
  simulate(@Body() body: unknown): Promise<BacktestReport> {
    const parsed = simulateBody.safeParse(body ?? {});
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
      throw new DomainError('invalid_request', problems.join('; '), 400, { problems });
    }
    const { candidate, from, to, sample } = parsed.data;
    return this.backtests.simulate({
      candidate,
      from: from === undefined ? undefined : Date.parse(from),
      to: to === undefined ? undefined : Date.parse(to),
      sample,
    });
  }
}
