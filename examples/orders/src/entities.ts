import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type OrderStatus = 'pending' | 'confirmed' | 'cancelled';

@Entity({ name: 'orders' })
export class Order {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'customer_id' })
  customerId!: string;

  @Column('int', { name: 'amount_cents' })
  amountCents!: number;

  @Column()
  currency!: string;

  /** pending → confirmed (PaymentSucceeded) or cancelled (PaymentFailed, the compensation). */
  @Column()
  status!: OrderStatus;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/**
 * One row per effect of a payment event on an order. No unique constraint on purpose: a payment
 * event applied twice would show here as two rows.
 */
@Entity({ name: 'order_history' })
export class OrderHistory {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column('uuid', { name: 'order_id' })
  orderId!: string;

  @Column()
  event!: string;

  @Column('uuid', { name: 'message_id' })
  messageId!: string;

  @Column('text', { nullable: true })
  detail!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
