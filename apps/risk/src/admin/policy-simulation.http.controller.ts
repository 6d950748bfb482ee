// POST /admin/policy/simulate: backtests a candidate policy against the recorded accesses. On the private
// risk port (unauthenticated); the gateway exposes it to admins behind a step-up.
import { Body, Controller, HttpCode, Post, Res, UseFilters } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { HttpErrorsFilter, HttpStatuses, invalidRequestListing, ZodBody } from '@stepgate/observability';
import { z } from 'zod';
import type { BacktestReport } from '../backtest/backtest.engine';
import { BACKTEST_HTTP_STATUSES, BacktestService } from '../backtest/backtest.service';

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
// No body reads as an empty one, so the refusal names what it lacks.
const simulateRequest = z.preprocess((body) => body ?? {}, simulateBody);

@Controller('admin/policy')
@UseFilters(new HttpErrorsFilter(new HttpStatuses(BACKTEST_HTTP_STATUSES)))
export class PolicySimulationHttpController {
  constructor(private readonly backtests: BacktestService) {}

  @Post('simulate')
  @HttpCode(200)
  simulate(
    @Body(new ZodBody(simulateRequest, invalidRequestListing)) body: z.infer<typeof simulateBody>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BacktestReport> {
    const { candidate, from, to, sample } = body;
    // A caller that went away (the console's next slider move, a gateway timeout) stops its run, so the
    // next one does not wait behind it (one run at a time).
    const abandoned = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abandoned.abort(new Error('the caller went away'));
    });
    return this.backtests.simulate({
      signal: abandoned.signal,
      candidate,
      from: from === undefined ? undefined : Date.parse(from),
      to: to === undefined ? undefined : Date.parse(to),
      sample,
    });
  }
}
