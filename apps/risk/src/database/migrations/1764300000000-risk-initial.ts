// The risk schema, written with TypeORM's portable Table API so one migration runs on SQLite and PostgreSQL.
// Times are epoch milliseconds in bigint columns; JSON lives in text columns.
import { type MigrationInterface, type QueryRunner, Table, type TableColumnOptions } from 'typeorm';

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
const count = (name: string): TableColumnOptions => ({ name, type: 'integer', isNullable: false });
const key = (column: TableColumnOptions): TableColumnOptions => ({ ...column, isPrimary: true });

export class RiskInitial1764300000000 implements MigrationInterface {
  name = 'RiskInitial1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'risk_devices',
        columns: [
          key(text('subject', 256)),
          key(text('device_id', 128)),
          time('created_at'),
          count('seen_count'),
          time('first_seen_at', true),
          time('last_seen_at', true),
          time('confirmed_at', true),
          text('last_client_ip', 64, true),
          text('last_user_agent', 1024, true),
          text('last_route', 128, true),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'risk_sightings',
        columns: [
          key(text('subject', 256)),
          key(text('kind', 16)),
          key(text('value', 64)),
          time('first_seen_at'),
          time('last_seen_at'),
          count('seen_count'),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'risk_challenge_attempts',
        columns: [
          key(text('challenge_id', 128)),
          key(text('result', 16)),
          key(time('occurred_at')),
          text('subject', 256),
          text('device_id', 128, true),
          text('method', 32),
        ],
        indices: [
          { name: 'idx_risk_challenge_attempts_subject_time', columnNames: ['subject', 'occurred_at'] },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'risk_assessments',
        columns: [
          {
            name: 'seq',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          text('assessment_id', 64),
          text('subject', 256),
          text('device_id', 128, true),
          time('time'),
          text('source', 32),
          text('correlation_id', 128),
          text('causation_id', 128, true),
          text('client_ip', 64, true),
          count('score'),
          text('level', 16),
          text('device_status', 16),
          text('model_version', 64),
          { name: 'signals', type: 'text', isNullable: false },
        ],
        indices: [
          { name: 'uq_risk_assessments_assessment_id', columnNames: ['assessment_id'], isUnique: true },
          { name: 'idx_risk_assessments_subject_seq', columnNames: ['subject', 'seq'] },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'risk_processed_messages',
        columns: [
          key(text('topic', 249)),
          key(text('message_id', 256)),
          time('processed_at'),
          text('assessment_id', 64, true),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [
      'risk_processed_messages',
      'risk_assessments',
      'risk_challenge_attempts',
      'risk_sightings',
      'risk_devices',
    ]) {
      await queryRunner.dropTable(table);
    }
  }
}
