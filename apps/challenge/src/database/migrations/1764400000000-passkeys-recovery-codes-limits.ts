import { type MigrationInterface, type QueryRunner, Table, type TableColumnOptions } from 'typeorm';

// Passkeys, their single-use ceremonies, recovery codes, and the per-subject failure guard. Same portable
// column helpers as the first migration (which has landed and is never edited).
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

export class PasskeysRecoveryCodesLimits1764400000000 implements MigrationInterface {
  name = 'PasskeysRecoveryCodesLimits1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'challenge_webauthn_credentials',
        columns: [
          id(),
          text('subject', 256),
          // base64url of the authenticator's credential id (at most 1023 bytes).
          text('credential_id', 1400),
          { name: 'public_key', type: 'text' },
          { name: 'counter', type: 'bigint', default: 0 },
          { name: 'transports', type: 'text' },
          text('user_handle', 128),
          text('device_type', 32),
          text('label', 64),
          text('enrolled_device_id', 128),
          text('enrolment_authorisation', 64),
          time('created_at'),
          time('last_used_at', true),
        ],
        uniques: [{ name: 'challenge_webauthn_credentials_credential', columnNames: ['credential_id'] }],
        indices: [{ name: 'challenge_webauthn_credentials_subject', columnNames: ['subject'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'challenge_webauthn_ceremonies',
        columns: [
          // The WebAuthn challenge itself (base64url): what the client signs, and the key to consume it.
          id('id', 128),
          text('purpose', 16),
          text('subject', 256),
          text('device_id', 128),
          text('session_id', 128, true),
          text('challenge_id', 64, true),
          text('user_verification', 16),
          text('authorisation', 64, true),
          time('created_at'),
          time('expires_at'),
          time('used_at', true),
        ],
        indices: [{ name: 'challenge_webauthn_ceremonies_expiry', columnNames: ['expires_at'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'challenge_recovery_codes',
        columns: [
          id(),
          text('subject', 256),
          text('batch_id', 64),
          text('code_hash', 64),
          text('key_id', 64),
          time('created_at'),
          time('used_at', true),
        ],
        uniques: [{ name: 'challenge_recovery_codes_hash', columnNames: ['code_hash'] }],
        indices: [{ name: 'challenge_recovery_codes_subject', columnNames: ['subject', 'used_at'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'challenge_subject_guards',
        columns: [
          id('subject', 256),
          { name: 'failures', type: 'integer', default: 0 },
          { name: 'version', type: 'integer', default: 0 },
          time('last_failure_at'),
          time('blocked_until'),
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'challenge_subject_guards',
      'challenge_recovery_codes',
      'challenge_webauthn_ceremonies',
      'challenge_webauthn_credentials',
    ]) {
      await q.dropTable(table);
    }
  }
}
