// The versioned policy: read it, change it with the version it was read at (If-Match, no lost updates),
// see every version with who made it and what changed, and roll back to any of them. Reads are on the
// private risk port like the rest of the admin API; a change needs the gateway's assertion (AdminAssertions).
import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Res,
  UseFilters,
} from '@nestjs/common';
import { ASSERTION_HEADER } from '@stepgate/identity';
import {
  DomainError,
  HttpErrorsFilter,
  HttpStatuses,
  type HttpStatusList,
  InvalidRequest,
  invalidRequestListing,
  NotFound,
  Unavailable,
} from '@stepgate/observability';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { PolicyStoreService, VersionConflict, type StoredVersion } from '../policy/policy-store.service';
import {
  InvalidPolicyCandidate,
  PolicyVersionsService,
  type RecordedChange,
} from '../policy/policy-versions.service';
import { summaryOf, type VersionSummary } from '../policy/version-summary';
import { AdminAssertions, ASSERTION_HTTP_STATUSES } from './admin-assertion';

const comment = z.string().trim().max(500).optional();
const changeBody = z.strictObject({
  /** The whole new document: `policy` (routes, acr) and `risk` (the tunables), as GET returns them. */
  document: z.record(z.string(), z.unknown(), { error: 'must be an object: { policy, risk }' }),
  comment,
});
const rollbackBody = z.strictObject({ to: z.int().min(1), comment });
const versionNumber = z.coerce.number().int().min(1);
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: versionNumber.optional(),
});

// The refusals of this API that are not the common ones; the decorator below needs them defined first.
/** The change was based on another version than the newest: the client's copy is stale. */
class StaleVersion extends DomainError {
  constructor(conflict: VersionConflict) {
    super(
      'version_conflict',
      `${conflict.message}: read it again (GET), apply your change to it, and send it with If-Match: "${conflict.head}"`,
      { version: conflict.head },
    );
  }
}

class PolicyRejected extends DomainError {
  constructor(invalid: InvalidPolicyCandidate) {
    super('invalid_policy', invalid.message, { problems: invalid.problems });
  }
}

/** A change must name the version it is based on; without it, it could overwrite one it never saw. */
class IfMatchRequired extends DomainError {
  constructor() {
    super(
      'precondition_required',
      'send If-Match with the ETag of the version your change is based on (GET /admin/policy)',
    );
  }
}

const POLICY_HTTP_STATUSES: HttpStatusList = [
  [StaleVersion, 412],
  [PolicyRejected, 400],
  [IfMatchRequired, 428],
];

@Controller('admin/policy')
@UseFilters(new HttpErrorsFilter(new HttpStatuses(ASSERTION_HTTP_STATUSES, POLICY_HTTP_STATUSES)))
export class PolicyHttpController {
  constructor(
    private readonly store: PolicyStoreService,
    private readonly versions: PolicyVersionsService,
    private readonly assertions: AdminAssertions,
  ) {}

  @Get()
  async current(@Res({ passthrough: true }) reply: FastifyReply): Promise<StoredVersion> {
    const head = await this.head();
    void reply.header('etag', etagOf(head.version));
    return head;
  }

  @Put()
  @HttpCode(200)
  async change(
    @Body() body: unknown,
    @Headers() headers: Record<string, string | string[] | undefined>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RecordedChange> {
    return this.write(headers, reply, (by) => {
      const { document, comment } = parse(changeBody, body);
      return this.versions.change({ ...by, document, comment: comment ?? null });
    });
  }

  @Post('rollback')
  @HttpCode(200)
  async rollback(
    @Body() body: unknown,
    @Headers() headers: Record<string, string | string[] | undefined>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RecordedChange> {
    return this.write(headers, reply, async (by) => {
      const { to, comment } = parse(rollbackBody, body);
      const stored = await this.versions.rollback(to, { ...by, comment: comment ?? null });
      if (!stored) throw new NotFound(`there is no policy version ${to}`);
      return stored;
    });
  }

  @Get('versions')
  async list(@Query() query: unknown): Promise<{ versions: VersionSummary[]; next: number | null }> {
    const { limit, before } = parse(listQuery, query);
    const page = await this.store.list(limit, before);
    const last = page.at(-1);
    return {
      versions: page.map(summaryOf),
      next: page.length === limit && last && last.version > 1 ? last.version : null,
    };
  }

  @Get('versions/:version')
  async version(@Param('version') raw: string): Promise<StoredVersion> {
    const version = parse(versionNumber, raw);
    const found = await this.store.get(version);
    if (!found) throw new NotFound(`there is no policy version ${version}`);
    return found;
  }

  private async head(): Promise<StoredVersion> {
    const head = await this.store.head();
    if (!head) throw new Unavailable('no policy version is recorded yet');
    return head;
  }

  /**
   * A change: who makes it (the verified assertion, checked first: nothing about the request is looked at for
   * an unauthenticated caller), against which version (If-Match), then the work; its conflicts and invalid
   * documents become 412 and 400. The body is parsed here, not by a pipe: pipes run before the handler, and
   * nothing about the request is answered before its author is known.
   */
  private async write(
    headers: Record<string, string | string[] | undefined>,
    reply: FastifyReply,
    work: (by: { author: string; expected: number }) => Promise<RecordedChange>,
  ): Promise<RecordedChange> {
    const head = await this.head();
    const author = await this.assertions.authorOf(headers[ASSERTION_HEADER], head.document.policy);
    const expected = expectedVersion(headers['if-match']);
    try {
      const stored = await work({ author: author.subject, expected });
      void reply.header('etag', etagOf(stored.version));
      return stored;
    } catch (err) {
      if (err instanceof VersionConflict) throw new StaleVersion(err);
      if (err instanceof InvalidPolicyCandidate) throw new PolicyRejected(err);
      throw err;
    }
  }
}

const etagOf = (version: number) => `"${version}"`;

/** If-Match: "7" (the ETag GET gave), required: a change without it could overwrite one it never saw. */
function expectedVersion(header: string | string[] | undefined): number {
  if (header === undefined) throw new IfMatchRequired();
  const value = (Array.isArray(header) ? (header[0] ?? '') : header).trim();
  if (value === '') return expectedVersion(undefined);
  // A strong ETag as GET gave it ("7"), or the bare number. Not `*`: a change must name what it is based on.
  const match = /^(?:"(\d{1,9})"|(\d{1,9}))$/.exec(value);
  if (!match) throw new InvalidRequest('If-Match must be the version ETag GET gave, e.g. "7"');
  return Number(match[1] ?? match[2]);
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  throw invalidRequestListing(parsed.error);
}
