// Signals and model: device browser/OS families, per-subject totals and last trusted place, the global
// feature distribution, and the velocity window's accesses. Portable Table API, like the initial migration.
import {
  type MigrationInterface,
  type QueryRunner,
  Table,
  TableColumn,
  TableIndex,
  type TableColumnOptions,
} from 'typeorm';

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
const count = (name: string, nullable = false): TableColumnOptions => ({
  name,
  type: 'integer',
  isNullable: nullable,
});
const real = (name: string): TableColumnOptions => ({ name, type: 'double precision', isNullable: true });
const key = (column: TableColumnOptions): TableColumnOptions => ({ ...column, isPrimary: true });

export class RiskSignals1764900000000 implements MigrationInterface {
  name = 'RiskSignals1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // What an assessment decided about, for backtesting and the console: the route, the gateway's decision.
    await queryRunner.addColumns('risk_assessments', [
      new TableColumn(text('route', 128, true)),
      new TableColumn(text('decision', 16, true)),
    ]);
    await queryRunner.createIndex(
      'risk_assessments',
      new TableIndex({ name: 'idx_risk_assessments_time', columnNames: ['time'] }),
    );
    await queryRunner.addColumns('risk_devices', [
      new TableColumn(text('browser_family', 64, true)),
      new TableColumn(text('os_family', 64, true)),
    ]);
    await queryRunner.createTable(
      new Table({
        name: 'risk_subjects',
        columns: [
          key(text('subject', 256)),
          count('access_count'),
          time('located_at', true),
          real('lat'),
          real('lon'),
          count('accuracy_km', true),
          text('place', 64, true),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'risk_feature_stats',
        columns: [key(text('feature', 16)), key(text('value', 64)), count('subjects')],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'risk_feature_totals',
        columns: [key(text('feature', 16)), count('subjects'), count('distinct_values')],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'risk_recent_accesses',
        columns: [
          key(text('subject', 256)),
          key(text('event_id', 128)),
          time('time'),
          text('client_ip', 64, true),
          text('device_id', 128, true),
        ],
        indices: [{ name: 'idx_risk_recent_accesses_subject_time', columnNames: ['subject', 'time'] }],
      }),
    );
    // Retention deletes by age: old messages and challenge results. (A subject's surplus sightings are
    // found among the rows a batch loads anyway: an index on last_seen_at would only slow every upsert.)
    await queryRunner.createIndex(
      'risk_processed_messages',
      new TableIndex({ name: 'idx_risk_processed_messages_processed_at', columnNames: ['processed_at'] }),
    );
    await queryRunner.createIndex(
      'risk_challenge_attempts',
      new TableIndex({ name: 'idx_risk_challenge_attempts_occurred_at', columnNames: ['occurred_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('risk_challenge_attempts', 'idx_risk_challenge_attempts_occurred_at');
    await queryRunner.dropIndex('risk_processed_messages', 'idx_risk_processed_messages_processed_at');
    for (const table of [
      'risk_recent_accesses',
      'risk_feature_totals',
      'risk_feature_stats',
      'risk_subjects',
    ]) {
      await queryRunner.dropTable(table);
    }
    await queryRunner.dropIndex('risk_assessments', 'idx_risk_assessments_time');
    await queryRunner.dropColumn('risk_assessments', 'decision');
    await queryRunner.dropColumn('risk_assessments', 'route');
    await queryRunner.dropColumn('risk_devices', 'os_family');
    await queryRunner.dropColumn('risk_devices', 'browser_family');
  }
}
