// The pages' script and stylesheet: static files, so the Content-Security-Policy can forbid anything inline.
// Served under /.stepgate/challenges/ because that is what the gateway forwards to this service.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, NotFoundException, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

const TYPES: Record<string, string> = {
  'stepgate.js': 'text/javascript; charset=utf-8',
  'stepgate.css': 'text/css; charset=utf-8',
};

@Controller('.stepgate/challenges/assets')
export class AssetsHttpController {
  /** Read once at start: an allowlist of two files, never a path from the request. */
  private readonly files = new Map(
    Object.keys(TYPES).map((name) => [name, readFileSync(join(__dirname, 'assets', name))]),
  );

  @Get(':file')
  asset(@Param('file') file: string, @Res() reply: FastifyReply): FastifyReply {
    const body = this.files.get(file);
    if (!body) throw new NotFoundException();
    return reply
      .header('content-type', TYPES[file]!)
      .header('cache-control', 'public, max-age=300')
      .header('x-content-type-options', 'nosniff')
      .send(body);
  }
}
