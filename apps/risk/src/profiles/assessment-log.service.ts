// The assessments risk published, newest first, a bounded number per subject.
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { In, Repository } from 'typeorm';
import { AssessmentEntity } from './assessment.entity';
import { RISK_DB } from '../database/risk.data-source';
import { chunks, insertChunks, run, Sql, type ColumnType } from '../database/sql';

export type NewAssessmentRecord = Omit<AssessmentEntity, 'seq'>;

@Injectable()
export class AssessmentLogService {
  private readonly touched = new Set<string>();

  constructor(
    @InjectRepository(AssessmentEntity, RISK_DB) private readonly records: Repository<AssessmentEntity>,
  ) {}

  /**
   * Appends a batch. Its subjects' oldest beyond the limit go in `pruneTouched`, off the hot path: a batch
   * would otherwise re-read up to the limit of rows for every subject it touches.
   */
  async appendMany(em: EntityManager, records: readonly NewAssessmentRecord[]): Promise<void> {
    const types: ColumnType[] = ['text', 'text', 'text', 'bigint', 'text', 'text', 'text', 'text', 'int'];
    const more: ColumnType[] = ['text', 'text', 'text', 'text', 'text', 'text'];
    for (const chunk of insertChunks(em, records)) {
      const sql = Sql.for(em);
      await run(
        em,
        sql,
        `INSERT INTO risk_assessments (assessment_id, subject, device_id, time, source, correlation_id,
           causation_id, client_ip, score, level, device_status, model_version, signals, route, decision)
         ${sql.rows(
           chunk.map((r) => [
             r.assessmentId,
             r.subject,
             r.deviceId,
             r.time,
             r.source,
             r.correlationId,
             r.causationId,
             r.clientIp,
             r.score,
             r.level,
             r.deviceStatus,
             r.modelVersion,
             JSON.stringify(r.signals),
             r.route,
             r.decision,
           ]),
           [...types, ...more],
         )}`,
      );
    }
    for (const r of records) this.touch(r.subject);
  }

  touch(subject: string): void {
    this.touched.add(subject);
  }

  /** Subjects appended to since the last prune (forgotten by it). */
  takeTouched(): string[] {
    const subjects = [...this.touched];
    this.touched.clear();
    return subjects;
  }

  /** Keeps each subject's newest `keepPerSubject` assessments; returns how many went. */
  async prune(em: EntityManager, subjects: readonly string[], keepPerSubject: number): Promise<number> {
    let deleted = 0;
    for (const chunk of chunks(subjects)) {
      const sql = Sql.for(em);
      const rows = await run<{ seq: number }>(
        em,
        sql,
        `DELETE FROM risk_assessments WHERE seq IN (
           SELECT seq FROM (
             SELECT seq, ROW_NUMBER() OVER (PARTITION BY subject ORDER BY seq DESC) AS age
             FROM risk_assessments WHERE subject IN (${sql.list(chunk)})
           ) ranked WHERE age > ${sql.p(keepPerSubject)}) RETURNING seq`,
      );
      deleted += rows.length;
    }
    return deleted;
  }

  byIds(assessmentIds: readonly string[]): Promise<AssessmentEntity[]> {
    return this.records.findBy({ assessmentId: In([...assessmentIds]) });
  }

  byId(assessmentId: string): Promise<AssessmentEntity | null> {
    return this.records.findOneBy({ assessmentId });
  }

  recent(subject: string, limit: number): Promise<AssessmentEntity[]> {
    return this.records.find({ where: { subject }, order: { seq: 'DESC' }, take: limit });
  }
}
