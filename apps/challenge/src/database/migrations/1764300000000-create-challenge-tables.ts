import { type MigrationInterface, type QueryRunner, Table, type TableColumnOptions } from 'typeorm';

// Portable column helpers: the same migration runs on SQLite and PostgreSQL; times are epoch ms in bigint.
const text = (name: string, length: number, nullable = false): TableColumnOptions => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable: nullable,
});
const time = (name: string, nullable = false): TableColumnOptions => ({
  name,
  type: 'bigint',
  isNullable: nullable,
});
const id = (name = 'id', length = 64): TableColumnOptions => ({ ...text(name, length), isPrimary: true });

export class CreateChallengeTables1764300000000 implements MigrationInterface {
  name = 'CreateChallengeTables1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'challenge_totp_factors',
        columns: [
          id(),
          text('subject', 256),
          text('status', 16),
          { name: 'secret_ciphertext', type: 'text' },
          text('secret_key_id', 64),
          { name: 'last_used_step', type: 'integer', isNullable: true },
          text('enrolled_device_id', 128),
          text('enrolment_authorisation', 64),
          time('created_at'),
          time('activated_at', true),
        ],
        indices: [{ name: 'challenge_totp_factors_subject', columnNames: ['subject', 'status'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'challenge_factor_audit',
        columns: [
          id(),
          time('time'),
          text('subject', 256),
          text('factor_id', 64),
          text('method', 32),
          text('change', 16),
          text('device_id', 128, true),
          text('authorisation', 64),
          text('correlation_id', 128),
        ],
        indices: [{ name: 'challenge_factor_audit_subject', columnNames: ['subject', 'time'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'challenge_challenges',
        columns: [
          id(),
          text('subject', 256),
          text('session_id', 128, true),
          text('device_id', 128),
          text('route', 128),
          text('required_acr', 128),
          { name: 'max_age_seconds', type: 'integer' },
          { name: 'risk', type: 'text' },
          { name: 'methods', type: 'text' },
          { name: 'attempts_left', type: 'integer' },
          { name: 'failures', type: 'integer', default: 0 },
          text('status', 16),
          text('correlation_id', 128),
          time('created_at'),
          time('expires_at'),
          time('completed_at', true),
        ],
        indices: [{ name: 'challenge_challenges_subject', columnNames: ['subject', 'created_at'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'challenge_signing_keys',
        columns: [
          id('kid', 128),
          text('slot', 16, true),
          { name: 'public_jwk', type: 'text' },
          { name: 'private_jwk_ciphertext', type: 'text' },
          text('private_key_id', 64),
          time('created_at'),
        ],
        uniques: [{ name: 'challenge_signing_keys_slot', columnNames: ['slot'] }],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'challenge_signing_keys',
      'challenge_challenges',
      'challenge_factor_audit',
      'challenge_totp_factors',
    ]) {
      await q.dropTable(table);
    }
  }
}
