import type { DynamicModule } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { ClsPluginTransactional } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { encodeAmqpMessage } from '@txbox/core';
import type { Channel } from 'amqplib';
import { ClsModule } from 'nestjs-cls';

/** `@nestjs-cls/transactional` on the default `@nestjs/typeorm` DataSource, as the README sets it up. */
export function clsTransactionalModule(): DynamicModule {
  return ClsModule.forRoot({
    global: true,
    plugins: [
      new ClsPluginTransactional({
        imports: [TypeOrmModule],
        adapter: new TransactionalAdapterTypeOrm({ dataSourceToken: getDataSourceToken() }),
      }),
    ],
  });
}

/** Publishes a message again with the same id, as a broker redelivery or a relay's double publish would. */
export function publishAgain(
  channel: Channel,
  exchange: string,
  message: { id: string; type: string; payload: unknown; key?: string },
): void {
  const { content, properties } = encodeAmqpMessage({
    id: message.id,
    type: message.type,
    version: 1,
    occurredAt: new Date(),
    key: message.key ?? null,
    correlationId: null,
    causationId: null,
    traceparent: null,
    tracestate: null,
    headers: {},
    payload: message.payload,
  });
  channel.publish(exchange, message.type, content, properties);
}
