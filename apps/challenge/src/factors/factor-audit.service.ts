// Every factor change leaves an audit row (the durable record) and a factor.changed event (how other
// services hear about it). One place, so enrolment, removal and spent recovery codes are recorded alike.
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { TOPICS, type ChallengeMethod } from '@stepgate/contracts';
import { MessageBus } from '@stepgate/kafka';
import type { Repository } from 'typeorm';
import { CHALLENGE_DB } from '../database/challenge-database';
import { ChallengeMetrics } from '../health/challenge.metrics';
import { newId } from '../ids';
import { FactorAuditEntity, type FactorChange } from './factor-audit.entity';

export interface FactorChangeRecord {
  change: FactorChange;
  method: ChallengeMethod;
  factorId: string;
  subject: string;
  deviceId: string | null;
  correlationId: string;
  /** How the change was allowed: `first_factor:<policy>`, `step_up`, `used_in_challenge`. */
  authorisation: string;
}

@Injectable()
export class FactorAuditService {
  private readonly logger = new Logger(FactorAuditService.name);

  constructor(
    private readonly bus: MessageBus,
    private readonly metrics: ChallengeMetrics,
    @InjectRepository(FactorAuditEntity, CHALLENGE_DB) private readonly audit: Repository<FactorAuditEntity>,
  ) {}

  async record(r: FactorChangeRecord, nowMs: number): Promise<void> {
    const entry = this.audit.create({
      id: newId(),
      time: nowMs,
      subject: r.subject,
      factorId: r.factorId,
      method: r.method,
      change: r.change,
      deviceId: r.deviceId,
      authorisation: r.authorisation,
      correlationId: r.correlationId,
    });
    await this.audit.insert(entry);
    this.metrics.factorChanges.inc({ method: r.method, change: r.change });
    try {
      await this.bus.publish(
        TOPICS.factorChanged,
        {
          eventId: entry.id,
          time: new Date(nowMs).toISOString(),
          correlationId: r.correlationId,
          subject: r.subject,
          deviceId: r.deviceId,
          factorId: r.factorId,
          method: r.method,
          change: r.change,
        },
        { correlationId: r.correlationId },
      );
    } catch (err) {
      this.logger.error(
        `factor ${r.change} ${r.factorId} is audited but its event was not published: ${String(err)}`,
      );
    }
  }
}
