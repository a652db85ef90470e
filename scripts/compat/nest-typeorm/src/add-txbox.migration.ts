import { inboxMigrationSql } from '@txbox/inbox';
import { outboxMigrationSql } from '@txbox/outbox';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The README's TypeORM migration, added to a service txbox had already migrated itself. */
export class AddTxbox1700000000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = process.env.COMPAT_SCHEMA ?? 'txbox';
    await queryRunner.query(outboxMigrationSql({ schema }));
    await queryRunner.query(inboxMigrationSql({ schema }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP SCHEMA "${process.env.COMPAT_SCHEMA}" CASCADE`);
  }
}
