import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ name: 'orders' })
export class Order {
  @PrimaryColumn()
  id!: string;

  @Column('int')
  totalCents!: number;
}

/** No unique constraint: an effect applied twice shows as two rows. */
@Entity({ name: 'ledger' })
export class LedgerEntry {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  orderId!: string;
}
