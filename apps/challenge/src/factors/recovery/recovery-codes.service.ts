// Recovery codes: a batch generated at once and shown once, stored as keyed hashes, each spent by one atomic
// UPDATE so a code works once even when it is sent many times concurrently.
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { IsNull, type DataSource, type Repository } from 'typeorm';
import { CHALLENGE_CONFIG, type ChallengeConfig, type FactorKey } from '../../config';
import { CHALLENGE_DB, updateReturning } from '../../database/challenge-database';
import { newId } from '../../ids';
import { SecretBox } from '../crypto/secret-box';
import type { FactorVerifier } from '../factor.verifier';
import { RecoveryCodeEntity } from './recovery-code.entity';
import { hashRecoveryCode, newRecoveryCode, normaliseRecoveryCode } from './recovery-codes';

export interface RecoveryCodeBatch {
  batchId: string;
  codes: string[];
}

@Injectable()
export class RecoveryCodesService implements FactorVerifier {
  readonly method = 'recovery_code' as const;
  private readonly keys: { current: FactorKey; all: FactorKey[] };
  private readonly count: number;

  constructor(
    @InjectRepository(RecoveryCodeEntity, CHALLENGE_DB)
    private readonly codes: Repository<RecoveryCodeEntity>,
    @InjectDataSource(CHALLENGE_DB) private readonly db: DataSource,
    box: SecretBox,
    @Inject(CHALLENGE_CONFIG) config: ChallengeConfig,
  ) {
    this.keys = box.derive('recovery-codes');
    this.count = config.challenge.recoveryCodes.count;
  }

  async hasActive(subject: string): Promise<boolean> {
    return (await this.remaining(subject)) > 0;
  }

  remaining(subject: string): Promise<number> {
    return this.codes.countBy({ subject, usedAt: IsNull() });
  }

  /** A new batch replaces the old one entirely: codes written down earlier stop working. */
  async generate(subject: string, nowMs: number): Promise<RecoveryCodeBatch> {
    const batchId = newId();
    const codes = Array.from({ length: this.count }, newRecoveryCode);
    const key = this.keys.current;
    await this.db.transaction(async (tx) => {
      await tx.delete(RecoveryCodeEntity, { subject });
      await tx.insert(
        RecoveryCodeEntity,
        codes.map((code) => ({
          id: newId(),
          subject,
          batchId,
          codeHash: hashRecoveryCode(key, subject, normaliseRecoveryCode(code)!),
          keyId: key.id,
          createdAt: nowMs,
          usedAt: null,
        })),
      );
    });
    return { batchId, codes };
  }

  /** Deletes every code of the subject; how many there were. */
  async removeAll(subject: string): Promise<number> {
    return (await this.codes.delete({ subject })).affected ?? 0;
  }

  /** Spends the code if it is an unused one of this subject: the spent code's id, or null. */
  async consume(subject: string, input: string, nowMs: number): Promise<string | null> {
    const normalised = normaliseRecoveryCode(input);
    if (!normalised) return null;
    // Hashed under every key still known, so codes survive a key rotation.
    const hashes = this.keys.all.map((key) => hashRecoveryCode(key, subject, normalised));
    const rows = await updateReturning<{ id: string }>(
      this.db,
      `UPDATE challenge_recovery_codes SET used_at = :now
       WHERE subject = :subject AND used_at IS NULL AND code_hash IN (:...hashes) RETURNING id`,
      { now: nowMs, subject, hashes },
    );
    return rows[0]?.id ?? null;
  }
}
