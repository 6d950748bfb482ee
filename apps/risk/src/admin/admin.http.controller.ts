// Read-only operator endpoints. They expose profiles: keep the risk port off the public network.
import { Controller, Get, Inject, Param, Query, UseFilters } from '@nestjs/common';
import { subject as subjectSchema } from '@stepgate/contracts';
import { DomainError, HttpExceptionFilter } from '@stepgate/observability';
import { z } from 'zod';
import { RISK_CONFIG, type RiskConfig } from '../config';
import { AdminService, type SubjectProfileView } from './admin.service';

const DEFAULT_ASSESSMENTS = 20;

@Controller('admin')
@UseFilters(HttpExceptionFilter)
export class AdminHttpController {
  private readonly limit: z.ZodType<number, string | undefined>;

  constructor(
    private readonly admin: AdminService,
    @Inject(RISK_CONFIG) config: RiskConfig,
  ) {
    this.limit = z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.int().min(1).max(config.retention.assessmentsPerSubject))
      .optional()
      .transform((n) => n ?? Math.min(DEFAULT_ASSESSMENTS, config.retention.assessmentsPerSubject));
  }

  @Get('subjects/:subject')
  subject(@Param('subject') subject: string, @Query('limit') limit?: string): Promise<SubjectProfileView> {
    return this.admin.subjectProfile(
      valid('subject', subjectSchema, subject),
      valid('limit', this.limit, limit),
    );
  }
}

function valid<T>(name: string, schema: z.ZodType<T, string | undefined>, value: string | undefined): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new DomainError(
    'invalid_request',
    `${name}: ${result.error.issues.map((i) => i.message).join('; ')}`,
    400,
  );
}
