// /.stepgate/auth/{login,callback,logout}: thin translation between HTTP and the sign-in service.
import { Controller, Get, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SignInError, SignInService, type Redirect } from './sign-in.service';

@Controller('.stepgate/auth')
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

  @Get('logout')
  async logoutGet(@Res() reply: FastifyReply, @Query('return_to') returnTo: unknown): Promise<void> {
    await this.answer(reply, async () => this.signIn.logout(returnTo));
  }

  @Post('logout')
  async logoutPost(@Res() reply: FastifyReply, @Query('return_to') returnTo: unknown): Promise<void> {
    await this.answer(reply, async () => this.signIn.logout(returnTo));
  }

  private async answer(reply: FastifyReply, act: () => Promise<Redirect>): Promise<void> {
    if (!this.signIn.enabled) {
      await reply.code(404).send({ error: 'not_found', message: 'browser sign-in is not configured' });
      return;
    }
    try {
      const { location, cookies } = await act();
      await reply
        .code(303)
        .header('cache-control', 'no-store')
        .header('set-cookie', cookies)
        .header('location', location)
        .send();
    } catch (err) {
      if (!(err instanceof SignInError)) throw err;
      await reply
        .code(400)
        .header('cache-control', 'no-store')
        .send({ error: err.code, message: err.message });
    }
  }
}
