// The last stage of every request, whatever its fate: metrics, one access event and one access log line.
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config';
import { AccessEventPublisher } from '../events/access-event.publisher';
import { GatewayMetrics } from '../health/gateway.metrics';
import type { AccessFacts, RequestContext } from './stages/judgement';

@Injectable()
export class AccessRecorder {
  private readonly accessLog = new Logger('Access');

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly events: AccessEventPublisher,
    private readonly metrics: GatewayMetrics,
  ) {}

  record(ctx: RequestContext, o: AccessFacts, status: number): void {
    const raw = ctx.raw;
    this.metrics.requests.inc({ route: o.route ?? 'none', decision: o.decision });
    const seconds = (performance.now() - ctx.started) / 1000;
    this.metrics.latency.observe({ decision: o.decision }, seconds);
    this.events.publish({
      eventId: randomUUID(),
      time: new Date().toISOString(),
      correlationId: ctx.correlationId,
      subject: o.token?.subject ?? null,
      sessionId: o.token?.sessionId ?? null,
      deviceId: o.deviceId,
      deviceSource: o.deviceId === null ? null : o.deviceSource,
      clientIp: ctx.clientIp,
      userAgent: String(raw.headers['user-agent'] ?? '').slice(0, 1024),
      method: String(raw.method),
      host: (o.host ?? 'invalid').slice(0, 255),
      path: (o.path ?? '/').slice(0, 4096),
      route: o.route,
      decision: o.decision,
      reason: o.reason.slice(0, 256),
      status,
      riskScore: o.risk?.score ?? null,
      riskLevel: o.risk?.level ?? null,
      acr: o.token?.acr ?? null,
      policyVersion: o.policyVersion,
      monitored: o.monitored,
      steppedUp: o.steppedUp,
    });
    if (this.config.gateway.accessLog) {
      this.accessLog.log({
        msg: 'request',
        correlationId: ctx.correlationId,
        method: raw.method,
        host: o.host,
        path: o.path,
        route: o.route,
        decision: o.decision,
        reason: o.reason,
        status,
        policyVersion: o.policyVersion,
        latencyMs: Math.round(seconds * 10_000) / 10,
        clientIp: ctx.clientIp,
        subject: o.token?.subject ?? null,
      });
    }
  }
}
