// Turns what the demo measured into the summary table and the verdict. Every row with an
// expectation is a check; the demo exits 0 only if all of them hold.

export interface PlannedOrder {
  customerId: string;
  amountCents: number;
  currency: 'EUR' | 'USD' | 'GBP';
  /** 1: written as OrderPlaced v1, as a not-yet-upgraded instance would. */
  eventVersion: 1 | 2;
  expected: 'confirmed' | 'cancelled';
}

interface TxboxNumbers {
  published: number;
  unpublished: number;
  /** OrderPlaced rows written as v1. */
  v1: number;
  deadLetters: number;
  /** Inbox records: handlers committed. */
  handled: number;
}

export interface DemoNumbers {
  plan: PlannedOrder[];
  /** Orders the orders service accepted (201). */
  placed: number;
  chargedAtKill: number;
  firstWave: number;
  /** Duplicates the demo published, per consumer group. */
  replayed: Record<string, number>;
  /** Duplicates each group skipped while the replay ran. */
  skippedDuringReplay: Record<string, number>;
  /** Duplicates each group skipped in total, over all its instances. */
  skipped: Record<string, number>;
  retried: number;
  deadLetteredByConsumers: number;
  deadLetterQueueDepth: number;
  effectsChanged: number;
  cleanExits: number;
  orders: { placed: number; confirmed: number; cancelled: number; pending: number };
  payments: { rows: number; orders: number; charged: number; declined: number; upcast: number };
  history: { rows: number; orders: number };
  txbox: { orders: TxboxNumbers; billing: TxboxNumbers };
  /** Orders whose state disagrees with billing's decision. */
  mismatched: number;
}

type Row = [label: string, value: string | number, expected: string | number, ok: boolean | undefined];

/** Prints the table and the verdict; returns true when every check passed. */
export function printSummary(
  r: DemoNumbers,
  { billingGroup, ordersGroup, log }: { billingGroup: string; ordersGroup: string; log: (line: string) => void },
): boolean {
  const { orders, payments, history, txbox, mismatched } = r;
  const placed = r.plan.length;
  const confirmed = r.plan.filter((o) => o.expected === 'confirmed').length;
  const cancelled = placed - confirmed;
  const v1 = r.plan.filter((o) => o.eventVersion === 1).length;
  const deadLetters =
    txbox.orders.deadLetters + txbox.billing.deadLetters + r.deadLetterQueueDepth + r.deadLetteredByConsumers;
  const deliveries = (group: string, handled: number) => handled + (r.skipped[group] ?? 0);
  const replayed = (group: string) => r.replayed[group] ?? 0;
  const totalReplayed = replayed(billingGroup) + replayed(ordersGroup);

  /** ok is undefined for rows that only inform. */
  const rows: Row[] = [
    ['orders placed (POST /orders → 201)', r.placed, placed, r.placed === placed && orders.placed === placed],
    ['  confirmed (PaymentSucceeded)', orders.confirmed, confirmed, orders.confirmed === confirmed],
    ['  cancelled (PaymentFailed → compensation)', orders.cancelled, cancelled, orders.cancelled === cancelled],
    ['  still pending', orders.pending, 0, orders.pending === 0],
    [
      `messages published: OrderPlaced (${txbox.orders.v1} written as v1)`,
      txbox.orders.published,
      `${placed} (${v1} as v1)`,
      txbox.orders.published === placed && txbox.orders.unpublished === 0 && txbox.orders.v1 === v1,
    ],
    [
      'messages published: PaymentSucceeded/Failed',
      txbox.billing.published,
      placed,
      txbox.billing.published === placed && txbox.billing.unpublished === 0,
    ],
    [
      'deliveries to billing (handled + skipped)',
      deliveries(billingGroup, txbox.billing.handled),
      `≥ ${placed + replayed(billingGroup)}`,
      deliveries(billingGroup, txbox.billing.handled) >= placed + replayed(billingGroup),
    ],
    [
      'deliveries to orders (handled + skipped)',
      deliveries(ordersGroup, txbox.orders.handled),
      `≥ ${placed + replayed(ordersGroup)}`,
      deliveries(ordersGroup, txbox.orders.handled) >= placed + replayed(ordersGroup),
    ],
    ['  handled by billing (inbox records)', txbox.billing.handled, placed, txbox.billing.handled === placed],
    ['  handled by orders (inbox records)', txbox.orders.handled, placed, txbox.orders.handled === placed],
    ['duplicates replayed by the demo', totalReplayed, 2 * placed, totalReplayed === 2 * placed],
    [
      'duplicates skipped by billing',
      r.skipped[billingGroup] ?? 0,
      `≥ ${replayed(billingGroup)}`,
      (r.skippedDuringReplay[billingGroup] ?? 0) >= replayed(billingGroup),
    ],
    [
      'duplicates skipped by orders',
      r.skipped[ordersGroup] ?? 0,
      `≥ ${replayed(ordersGroup)}`,
      (r.skippedDuringReplay[ordersGroup] ?? 0) >= replayed(ordersGroup),
    ],
    [
      'handler effects: payments (billing)',
      payments.rows,
      `${placed}, one per order`,
      payments.rows === placed && payments.orders === placed,
    ],
    [
      '  charged / declined',
      `${payments.charged} / ${payments.declined}`,
      `${confirmed} / ${cancelled}`,
      payments.charged === confirmed && payments.declined === cancelled,
    ],
    ['  from OrderPlaced v1, upcast to v2', payments.upcast, v1, payments.upcast === v1],
    [
      'handler effects: order_history (orders)',
      history.rows,
      `${placed}, one per order`,
      history.rows === placed && history.orders === placed,
    ],
    ['orders disagreeing with billing', mismatched, 0, mismatched === 0],
    ['effects changed by the replay', r.effectsChanged, 0, r.effectsChanged === 0],
    ['dead letters (outboxes, consumer queues)', deadLetters, 0, deadLetters === 0],
    ['billing charges committed before its SIGKILL', `${r.chargedAtKill} of ${r.firstWave}`, '', undefined],
    ['handler retries', r.retried, '', undefined],
    ['services stopped cleanly (SIGTERM → exit 0)', r.cleanExits, 2, r.cleanExits === 2],
  ];

  const table = rows.map(([label, value, expected, ok]) => [
    String(label),
    String(value),
    String(expected),
    ok === undefined ? '' : ok ? '✓' : '✗',
  ]);
  const header = ['', 'value', 'expected', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    `  ${pad(cells[0], widths[0])}  ${pad(cells[1], widths[1], true)}  ${pad(cells[2], widths[2], true)}  ${cells[3] ?? ''}`.trimEnd();
  const rule = `  ${'─'.repeat(sum(widths) + 7)}`;
  const failed = rows.filter(([, , , ok]) => ok === false).map(([label]) => String(label).trim());

  log('summary');
  console.log(['', line(header), rule, ...table.map(line), rule, ''].join('\n'));
  if (failed.length === 0) {
    log(
      `OK: exactly once. ${placed} orders, each charged or declined once and confirmed or cancelled once, ` +
        `through a consumer crash and ${totalReplayed} duplicate deliveries.`,
    );
    return true;
  }
  log(`FAILED: ${failed.join('; ')}`);
  return false;
}

function pad(text = '', width = 0, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
