// Policy versions: every version of the policy document, append-only (the audit log and the rollback source).
import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';

export class PolicyVersions1765600000000 implements MigrationInterface {
  name = 'PolicyVersions1765600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'risk_policy_versions',
        columns: [
          { name: 'version', type: 'integer', isPrimary: true },
          { name: 'hash', type: 'varchar', length: '64' },
          { name: 'document', type: 'text' },
          { name: 'changes', type: 'text' },
          { name: 'author', type: 'varchar', length: '256' },
          { name: 'source', type: 'varchar', length: '16' },
          { name: 'restores', type: 'integer', isNullable: true },
          { name: 'comment', type: 'varchar', length: '500', isNullable: true },
          { name: 'created_at', type: 'bigint' },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('risk_policy_versions');
  }
}
