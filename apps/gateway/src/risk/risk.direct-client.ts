// Asks risk directly over HTTP (adr/0016-direct-risk-path): POST to risk's private port over a keep-alive
// pool, with a service token the gateway signs with its own key and risk verifies against the gateway's JWKS.
// No consumer group is in the way, so any risk instance answers as soon as it listens, and the state it
// scores against is the shared database's.
import { Logger, type LoggerService, type OnApplicationShutdown } from '@nestjs/common';
import {
  ASSESS_RISK_HTTP_PATH,
  assessRiskReply,
  type AssessRiskRequest,
  type RiskAssessment,
} from '@stepgate/contracts';
import type { ServiceTokenSigner } from '@stepgate/identity';
import { Pool, type Dispatcher } from 'undici';
import { checkedAnswer, RiskRequestError, type RiskFailure, type RiskTransport } from './risk.transport';

export interface DirectRiskSettings {
  /** Risk's base URL (gateway.risk.url). */
  url: string;
  connections: number;
  /** The route's risk budget: connecting, the answer's headers and its body each fit in it. */
  timeoutMs: number;
}

/** Answers are a few hundred bytes: anything much larger is not an assessment. */
const MAX_REPLY_BYTES = 64 * 1024;
const WARN_EVERY_MS = 30_000;

export class DirectRiskClient implements RiskTransport, OnApplicationShutdown {
  readonly path = 'direct';
  private readonly pool: Pool;
  private readonly endpoint: string;
  private lastWarnedAt = -Infinity;
  private failing = false;

  constructor(
    settings: DirectRiskSettings,
    private readonly tokens: ServiceTokenSigner,
    private readonly logger: LoggerService = new Logger(DirectRiskClient.name),
  ) {
    const url = new URL(settings.url);
    this.endpoint = url.pathname.replace(/\/$/, '') + ASSESS_RISK_HTTP_PATH;
    this.pool = new Pool(url.origin, {
      connections: settings.connections,
      // One request at a time per connection: a slow answer never holds up the ones queued behind it.
      pipelining: 1,
      connectTimeout: settings.timeoutMs,
      headersTimeout: settings.timeoutMs,
      bodyTimeout: settings.timeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  async assess(request: AssessRiskRequest, timeoutMs: number): Promise<RiskAssessment> {
    try {
      const assessment = await this.exchange(request, timeoutMs);
      this.failing = false;
      return assessment;
    } catch (err) {
      const failure =
        err instanceof RiskRequestError ? err : new RiskRequestError(transportFailure(err), String(err));
      this.warn(failure);
      throw failure;
    }
  }

  private async exchange(request: AssessRiskRequest, timeoutMs: number): Promise<RiskAssessment> {
    // One deadline for everything: a free connection, the token, connecting, the answer.
    const signal = AbortSignal.timeout(timeoutMs);
    const token = await this.tokens.token();
    const res: Dispatcher.ResponseData = await this.pool.request({
      path: this.endpoint,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-correlation-id': request.correlationId,
      },
      body: JSON.stringify(request),
      signal,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '');
      throw new RiskRequestError('refused', `risk answered ${res.statusCode}: ${text.slice(0, 200)}`);
    }
    const length = Number(res.headers['content-length'] ?? 0);
    if (length > MAX_REPLY_BYTES) {
      await res.body.dump();
      throw new RiskRequestError('invalid', `risk answered ${length} bytes`);
    }
    // Counted as it arrives: a chunked answer has no content-length to refuse it by.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) {
        res.body.destroy();
        throw new RiskRequestError('invalid', `risk answered more than ${MAX_REPLY_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      throw new RiskRequestError('invalid', `risk's answer is not JSON: ${String(err)}`);
    }
    const parsed = assessRiskReply.safeParse(body);
    if (!parsed.success)
      throw new RiskRequestError('invalid', `risk's answer is not an assessment: ${parsed.error.message}`);
    return checkedAnswer(request, parsed.data);
  }

  /** The first failure after answers, then at most one line every 30 s: a risk restart is one line. */
  private warn(err: RiskRequestError): void {
    const now = performance.now();
    if (this.failing && now - this.lastWarnedAt < WARN_EVERY_MS) return;
    this.failing = true;
    this.lastWarnedAt = now;
    this.logger.warn(`direct risk request failed (${err.failure}): ${err.message}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.close();
  }
}

function transportFailure(err: unknown): RiskFailure {
  const { name, code } = (err ?? {}) as { name?: unknown; code?: unknown };
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_ABORTED':
      return 'timeout';
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'unreachable';
    default:
      return 'failed';
  }
}
