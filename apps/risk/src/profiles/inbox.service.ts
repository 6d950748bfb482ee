// Which consumed messages have been applied: the idempotency of every handler that changes the profile.
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { LessThan, Repository } from 'typeorm';
import { ProcessedMessage } from './processed-message.entity';
import { RISK_DB } from './risk.data-source';

export interface MessageKey {
  topic: string;
  messageId: string;
}

@Injectable()
export class Inbox {
  constructor(
    @InjectRepository(ProcessedMessage, RISK_DB) private readonly messages: Repository<ProcessedMessage>,
  ) {}

  find(key: MessageKey): Promise<ProcessedMessage | null> {
    return this.messages.findOneBy({ topic: key.topic, messageId: key.messageId });
  }

  /**
   * Claims the message inside the transaction that applies it: true if this transaction recorded it, false if
   * it was already applied. On PostgreSQL a concurrent claim of the same message waits here until the first
   * transaction ends, then gets false (or true, if that one rolled back); SQLite runs write transactions one
   * at a time anyway.
   */
  async claim(
    em: EntityManager,
    key: MessageKey,
    assessmentId: string | null,
    now: number,
  ): Promise<boolean> {
    const [sql, parameters] = em
      .createQueryBuilder()
      .insert()
      .into(ProcessedMessage)
      .values({ ...key, processedAt: now, assessmentId })
      .orIgnore()
      .getQueryAndParameters();
    // The structured result carries the affected row count on every driver; InsertResult does not.
    const result = await em.queryRunner!.query(sql, parameters, true);
    return result.affected === 1;
  }

  /** Forgets messages processed before `before`; returns how many. */
  async prune(before: number): Promise<number> {
    const result = await this.messages.delete({ processedAt: LessThan(before) });
    return result.affected ?? 0;
  }
}
