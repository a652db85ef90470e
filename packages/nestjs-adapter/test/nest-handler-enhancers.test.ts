import 'reflect-metadata';
import {
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  Catch,
  type ExceptionFilter,
  type ExecutionContext,
  Injectable,
  Module,
  type NestInterceptor,
  Scope,
  UseFilters,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { NonRetryableError, type PayloadOf } from '@txbox/core';
import { groupTopology, type HandlerContext } from '@txbox/inbox';
import { OnMessage, TxboxAdmin, TxboxModule, TxboxOutbox } from '@txbox/nestjs';
import pg from 'pg';
import { tap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../test-support/index.js';
import { OrderPlaced } from './app/contracts.js';

const { schema, pool, databaseUrl } = useTestSchema('nest_enhancers');
const amqp = useAmqp();
const exchange = uniqueName('nest_enh_events');
const group = uniqueName('nest_enh');
const events: string[] = [];

/** Registered app-wide with APP_INTERCEPTOR, as tracing and logging interceptors are. */
@Injectable()
class GlobalTrace implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler) {
    const [payload, ctx] = context.getArgs<[PayloadOf<typeof OrderPlaced>, HandlerContext]>();
    events.push(`global:${context.getType()}:${payload.orderId}:${ctx.group === group}`);
    return next.handle();
  }
}

@Injectable()
class Timing implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler) {
    const order = context.switchToRpc().getData<PayloadOf<typeof OrderPlaced>>();
    events.push(`before:${order.orderId}`);
    return next.handle().pipe(tap(() => events.push(`after:${order.orderId}`)));
  }
}

/** Refuses orders above a limit: Nest throws ForbiddenException, the inbox retries, then dead-letters. */
@Injectable()
class Limit implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.getArgByIndex<PayloadOf<typeof OrderPlaced>>(0).totalCents <= 1000;
  }
}

class CardDeclined extends Error {}

/** Translates a domain error into "do not retry": the inbox dead-letters at once. */
@Catch(CardDeclined)
class DeclinedIsFinal implements ExceptionFilter {
  catch(error: CardDeclined, host: ArgumentsHost) {
    events.push(`filter:${host.getType()}:${error.message}`);
    throw new NonRetryableError(`declined: ${error.message}`);
  }
}

@Injectable()
@UseInterceptors(Timing)
class Billing {
  @OnMessage(OrderPlaced)
  @UseGuards(Limit)
  @UseFilters(DeclinedIsFinal)
  async charge(order: PayloadOf<typeof OrderPlaced>): Promise<void> {
    events.push(`handler:${order.orderId}`);
    if (order.orderId.startsWith('declined')) throw new CardDeclined(order.orderId);
  }
}

@Injectable()
class Checkout {
  constructor(
    private readonly outbox: TxboxOutbox,
    private readonly db: pg.Pool,
  ) {}

  async place(orderId: string, totalCents: number): Promise<void> {
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      await this.outbox.add(client, OrderPlaced.create({ orderId, totalCents }));
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }
}

@Module({
  providers: [
    Billing,
    Checkout,
    { provide: pg.Pool, useValue: pool },
    { provide: APP_INTERCEPTOR, useClass: GlobalTrace },
  ],
})
class BillingModule {}

const retry = { delaysMs: [100], maxAttempts: 2 };
let app: Awaited<ReturnType<typeof boot>>;

async function boot() {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TxboxModule.forRoot({
        isGlobal: true,
        contracts: [OrderPlaced],
        amqpUrl: testAmqpUrl(),
        database: { url: databaseUrl },
        schema,
        exchange,
        defaultGroup: group,
        relay: { pollIntervalMs: 200 },
        consumers: { defaults: { retry } },
      }),
      BillingModule,
    ],
  }).compile();
  const nest = moduleRef.createNestApplication({ logger: false });
  await nest.init();
  return nest;
}

beforeAll(async () => {
  app = await boot();
});
afterAll(async () => {
  await app?.close();
  const topology = groupTopology({
    group,
    exchange,
    retryDelaysMs: retry.delaysMs,
    bindings: [],
    queueType: 'classic',
  });
  await deleteTopology(amqp.channel, topology);
});

const stats = async () => (await app.get(TxboxAdmin).stats()).consumers[0];

describe('@OnMessage handlers run through Nest’s guards, interceptors and exception filters', () => {
  it('global and class interceptors wrap the handler, with the txbox context type and [payload, ctx] as arguments', async () => {
    await app.get(Checkout).place('ok-1', 500);
    await waitUntil('the handler', async () => (await stats())?.processed === 1);
    expect(events).toEqual(['global:txbox:ok-1:true', 'before:ok-1', 'handler:ok-1', 'after:ok-1']);
  });

  it('a guard that refuses keeps the handler from running; the message is retried, then dead-lettered', async () => {
    events.length = 0;
    await app.get(Checkout).place('big-1', 5000);
    await waitUntil('the dead letter', async () => (await stats())?.deadLettered === 1);
    expect(events.filter((e) => e.startsWith('handler:'))).toEqual([]);
    expect((await stats())?.retried).toBe(1);
  });

  it('an exception filter sees the handler’s error and can make it final', async () => {
    events.length = 0;
    await app.get(Checkout).place('declined-1', 100);
    await waitUntil('the dead letter', async () => (await stats())?.deadLettered === 2);
    expect(events.filter((e) => e.startsWith('filter:'))).toEqual(['filter:txbox:declined-1']);
    // NonRetryableError from the filter: no trip through the delay queue.
    expect((await stats())?.retried).toBe(1);
  });
});

describe('a request-scoped provider used as a handler', () => {
  @Injectable({ scope: Scope.REQUEST })
  class PerRequestHandlers {
    @OnMessage(OrderPlaced)
    async charge(): Promise<void> {}
  }

  it('is refused at start with a message saying what to change', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TxboxModule.forRoot({
          contracts: [OrderPlaced],
          amqpUrl: testAmqpUrl(),
          database: { url: databaseUrl },
          schema,
          exchange,
          defaultGroup: uniqueName('nest_req'),
        }),
      ],
      providers: [PerRequestHandlers],
    }).compile();
    const nest = moduleRef.createNestApplication({ logger: false });
    await expect(nest.init()).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
      message: expect.stringMatching(/PerRequestHandlers\.charge is on a request-scoped provider.*singleton/),
    });
    await nest.close();
  });
});
