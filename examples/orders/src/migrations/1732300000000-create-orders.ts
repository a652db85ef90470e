import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateOrders1732300000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE orders (
        id            uuid PRIMARY KEY,
        customer_id   text NOT NULL,
        amount_cents  integer NOT NULL,
        currency      text NOT NULL,
        status        text NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled')),
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE order_history (
        id          bigserial PRIMARY KEY,
        order_id    uuid NOT NULL REFERENCES orders (id),
        event       text NOT NULL,
        message_id  uuid NOT NULL,
        detail      text,
        created_at  timestamptz NOT NULL DEFAULT now()
      );`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE order_history; DROP TABLE orders;');
  }
}
