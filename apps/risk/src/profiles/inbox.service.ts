// Which consumed messages have been applied: the idempotency of every handler that changes the profile.
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { In, LessThan, Repository } from 'typeorm';
import { ProcessedMessageEntity } from './processed-message.entity';
import { RISK_DB } from '../database/risk.data-source';
import { insertChunks, run, Sql } from '../database/sql';

export interface MessageKey {
  topic: string;
  messageId: string;
}

@Injectable()
export class InboxService {
  constructor(
    @InjectRepository(ProcessedMessageEntity, RISK_DB)
    private readonly messages: Repository<ProcessedMessageEntity>,
  ) {}

  find(key: MessageKey): Promise<ProcessedMessageEntity | null> {
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
      .into(ProcessedMessageEntity)
      .values({ ...key, processedAt: now, assessmentId })
      .orIgnore()
      .getQueryAndParameters();
    // The structured result carries the affected row count on every driver; InsertResult does not.
    const result = await em.queryRunner!.query(sql, parameters, true);
    return result.affected === 1;
  }

  /**
   * Claims a batch of messages in one statement: the ids this transaction recorded (the rest were applied
   * before, or are being applied by a concurrent consumer, which this statement then waits for on PostgreSQL).
   */
  async claimMany(
    em: EntityManager,
    topic: string,
    messages: readonly { messageId: string; assessmentId: string | null }[],
    now: number,
  ): Promise<Set<string>> {
    const claimed = new Set<string>();
    for (const chunk of insertChunks(em, messages)) {
      const sql = Sql.for(em);
      const rows = await run<{ message_id: string }>(
        em,
        sql,
        `INSERT INTO risk_processed_messages (topic, message_id, processed_at, assessment_id)
         ${sql.rows(
           chunk.map((m) => [topic, m.messageId, now, m.assessmentId]),
           ['text', 'text', 'bigint', 'text'],
         )}
         ON CONFLICT DO NOTHING RETURNING message_id`,
      );
      for (const row of rows) claimed.add(row.message_id);
    }
    return claimed;
  }

  findMany(topic: string, messageIds: readonly string[]): Promise<ProcessedMessageEntity[]> {
    return this.messages.findBy({ topic, messageId: In([...messageIds]) });
  }

  /** Forgets messages processed before `before`; returns how many. */
  async prune(before: number): Promise<number> {
    const result = await this.messages.delete({ processedAt: LessThan(before) });
    return result.affected ?? 0;
  }
}
