import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TxboxAdmin } from './admin/txbox-admin.service.js';
import { TxboxHealthIndicator } from './health/txbox-health.indicator.js';
import { TxboxOutbox } from './outbox/txbox-outbox.service.js';
import { TxboxRuntime } from './runtime/txbox-runtime.js';
import { ConfigurableModuleClass } from './txbox.module-definition.js';

/**
 * Registers txbox: `TxboxModule.forRoot({...})` or `TxboxModule.forRootAsync({ useFactory, inject })`,
 * with `isGlobal: true` to inject `TxboxOutbox` everywhere without importing the module again.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [TxboxRuntime, TxboxOutbox, TxboxHealthIndicator, TxboxAdmin],
  exports: [TxboxOutbox, TxboxHealthIndicator, TxboxAdmin],
})
export class TxboxModule extends ConfigurableModuleClass {}
