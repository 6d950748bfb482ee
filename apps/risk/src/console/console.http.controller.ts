// The security team's console: GET /admin/console (the page), /admin/console/data.json (the same data) and
// the page's script and stylesheet. Read-only: keep the risk port private; the gateway serves it at
// /.stepgate/admin/console behind an admin claim and a step-up. The script's saves and rollbacks go to
// /admin/policy, which takes a change only with the gateway's assertion.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, NotFoundException, Param, Query, Res, UseFilters } from '@nestjs/common';
import { HttpErrorsFilter, InvalidRequest } from '@stepgate/observability';
import type { FastifyReply } from 'fastify';
import { ConsoleService, type ConsoleQuery } from './console.service';
import type { ConsoleData } from './console.stats';
import { windowOf } from './console.stats';
import { consolePage, errorPage } from './console.view';
import { PAGE_HEADERS } from './html';

const ASSETS: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

type RawQuery = Record<string, unknown>;

@Controller('admin/console')
@UseFilters(new HttpErrorsFilter())
export class ConsoleHttpController {
  /** Read once at start: an allowlist of two files, never a path from the request. */
  private readonly assets = new Map(
    Object.keys(ASSETS).map((name) => [name, readFileSync(join(__dirname, 'assets', name))]),
  );

  constructor(private readonly console: ConsoleService) {}

  @Get()
  async page(@Query() query: RawQuery, @Res() reply: FastifyReply): Promise<void> {
    let data: ConsoleData;
    try {
      data = await this.console.view(consoleQuery(query, Date.now()));
    } catch (err) {
      if (!(err instanceof InvalidRequest)) throw err;
      await reply.code(400).headers(PAGE_HEADERS).send(errorPage(err.message).value);
      return;
    }
    await reply.code(200).headers(PAGE_HEADERS).send(consolePage(data).value);
  }

  @Get('data.json')
  async data(@Query() query: RawQuery, @Res() reply: FastifyReply): Promise<void> {
    const data = await this.console.view(consoleQuery(query, Date.now()));
    await reply.header('cache-control', 'no-store').send(data);
  }

  @Get(':file')
  asset(@Param('file') file: string, @Res() reply: FastifyReply): FastifyReply {
    const body = this.assets.get(file);
    if (!body) throw new NotFoundException();
    return reply
      .header('content-type', ASSETS[file]!)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .send(body);
  }
}

/** The window and route filter of a request; a 400 naming the parameter when one is not understood. */
export function consoleQuery(query: RawQuery, nowMs: number): ConsoleQuery {
  const text = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw invalid(`${name}: give it once`);
    return v;
  };
  const window = windowOf({ from: text('from'), to: text('to'), last: text('last') }, nowMs);
  if (typeof window === 'string') throw invalid(window);
  const route = text('route') || null;
  if (route !== null && route.length > 128) throw invalid('route: at most 128 characters');
  return { ...window, route };
}

const invalid = (message: string) => new InvalidRequest(message);
