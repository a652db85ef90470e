import { inboxMigrationSql } from '@txbox/inbox';
import { outboxMigrationSql } from '@txbox/outbox';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * txbox's tables as an ordinary TypeORM migration: the service owns its migrations, and
 * TxboxModule runs with `runMigrations: false`. A later txbox schema version comes as another
 * migration with `outboxMigrationSql({ schema, fromVersion })`.
 */
export class AddTxbox1732300000001 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(outboxMigrationSql({ schema: 'txbox' }));
    await queryRunner.query(inboxMigrationSql({ schema: 'txbox' }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP SCHEMA txbox CASCADE');
  }
}
