// The assessments risk published, newest first, a bounded number per subject.
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { Repository } from 'typeorm';
import { AssessmentRecord } from './assessment.entity';
import { RISK_DB } from './risk.data-source';

export type NewAssessmentRecord = Omit<AssessmentRecord, 'seq'>;

@Injectable()
export class AssessmentLog {
  constructor(
    @InjectRepository(AssessmentRecord, RISK_DB) private readonly records: Repository<AssessmentRecord>,
  ) {}

  /** Appends, then prunes the subject's oldest beyond `keepPerSubject` (in the same transaction). */
  async append(em: EntityManager, record: NewAssessmentRecord, keepPerSubject: number): Promise<void> {
    const records = em.withRepository(this.records);
    await records.insert(record);
    const oldestKept = await records
      .createQueryBuilder('a')
      .select('a.seq', 'seq')
      .where('a.subject = :subject', { subject: record.subject })
      .orderBy('a.seq', 'DESC')
      .offset(keepPerSubject - 1)
      .limit(1)
      .getRawOne<{ seq: number }>();
    if (!oldestKept) return;
    await records
      .createQueryBuilder()
      .delete()
      .where('subject = :subject AND seq < :seq', { subject: record.subject, seq: oldestKept.seq })
      .execute();
  }

  byId(assessmentId: string): Promise<AssessmentRecord | null> {
    return this.records.findOneBy({ assessmentId });
  }

  recent(subject: string, limit: number): Promise<AssessmentRecord[]> {
    return this.records.find({ where: { subject }, order: { seq: 'DESC' }, take: limit });
  }
}
