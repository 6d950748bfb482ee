// Read-only operator endpoints. They expose profiles: keep the risk port off the public network.
import { Controller, Get, Param, Query, UseFilters } from '@nestjs/common';
import { subject as subjectSchema } from '@stepgate/contracts';
import { HttpErrorsFilter, HttpStatuses, InvalidRequest } from '@stepgate/observability';
import { z } from 'zod';
import { RiskPolicyService } from '../policy/risk-policy.service';
import { ADMIN_HTTP_STATUSES, AdminService, type SubjectProfileView } from './admin.service';

const DEFAULT_ASSESSMENTS = 20;

@Controller('admin')
@UseFilters(new HttpErrorsFilter(new HttpStatuses(ADMIN_HTTP_STATUSES)))
export class AdminHttpController {
  constructor(
    private readonly admin: AdminService,
    private readonly policy: RiskPolicyService,
  ) {}

  @Get('subjects/:subject')
  subject(@Param('subject') subject: string, @Query('limit') limit?: string): Promise<SubjectProfileView> {
    // The retention in force bounds the limit: it can change while risk runs.
    const kept = this.policy.current.config.retention.assessmentsPerSubject;
    const limitSchema = z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.int().min(1).max(kept))
      .optional()
      .transform((n) => n ?? Math.min(DEFAULT_ASSESSMENTS, kept));
    return this.admin.subjectProfile(
      valid('subject', subjectSchema, subject),
      valid('limit', limitSchema, limit),
    );
  }
}

function valid<T>(name: string, schema: z.ZodType<T, string | undefined>, value: string | undefined): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidRequest(`${name}: ${result.error.issues.map((i) => i.message).join('; ')}`);
}
