// /.stepgate/auth/{login,callback,logout}: thin translation between HTTP and the sign-in service.
import { Controller, Get, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import { HttpErrorsFilter, HttpStatuses, NotFound } from '@stepgate/observability';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LOGOUT_PAGE_HEADERS, logoutPage, signedOutPage } from './logout.page';
import { SIGN_IN_HTTP_STATUSES, SignInService, type Redirect } from './sign-in.service';

/** A logout form is a token and a path: anything bigger is not one of ours. */
const MAX_FORM_BYTES = 4096;

@Controller('.stepgate/auth')
@UseFilters(new HttpErrorsFilter(new HttpStatuses(SIGN_IN_HTTP_STATUSES)))
export class AuthHttpController {
  constructor(private readonly signIn: SignInService) {}

  @Get('login')
  async login(
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
    @Query('return_to') returnTo: unknown,
  ): Promise<void> {
    await this.answer(reply, () => this.signIn.start(req.headers.host, returnTo));
  }

  @Get('callback')
  async callback(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.answer(reply, () =>
      this.signIn.finish(req.headers.host, req.raw.url ?? '/', req.headers.cookie),
    );
  }

  /** Asks; never signs out (a cross-site link or image is a GET). */
  @Get('logout')
  async logoutGet(
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
    @Query('return_to') returnTo: unknown,
  ): Promise<void> {
    this.assertEnabled();
    const page = await this.signIn.logoutPage(req.headers.cookie, returnTo);
    if (page.kind === 'signed_out') void reply.header('set-cookie', page.cookies);
    const body =
      page.kind === 'confirm' ? logoutPage(page.csrfToken, page.returnTo) : signedOutPage(page.returnTo);
    await reply.code(200).headers(LOGOUT_PAGE_HEADERS).send(body.value);
  }

  /** Signs out with the page's CSRF token (`_csrf` form field or `X-CSRF-Token`), from this origin only. */
  @Post('logout')
  async logoutPost(
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
    @Query('return_to') returnTo: unknown,
  ): Promise<void> {
    const header = req.headers['x-csrf-token'];
    const token = typeof header === 'string' ? header : await formField(req, '_csrf');
    const correlationId = req.headers['x-correlation-id'];
    await this.answer(reply, () =>
      this.signIn.logout(
        req.headers,
        returnTo,
        token,
        typeof correlationId === 'string' ? correlationId : undefined,
      ),
    );
  }

  private async answer(reply: FastifyReply, act: () => Promise<Redirect>): Promise<void> {
    this.assertEnabled();
    // Before acting: the refusals the filter writes are about one browser's sign-in too.
    void reply.header('cache-control', 'no-store');
    const { location, cookies } = await act();
    await reply.code(303).header('set-cookie', cookies).header('location', location).send();
  }

  private assertEnabled(): void {
    if (!this.signIn.enabled) throw new NotFound('browser sign-in is not configured');
  }
}

/**
 * One field of a urlencoded form body. The gateway leaves bodies unparsed (they stream to upstreams), so the
 * few bytes of this one are read here; anything else, or anything too big, is no field.
 */
async function formField(req: FastifyRequest, name: string): Promise<string | null> {
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/x-www-form-urlencoded')) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.raw as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get(name);
}
