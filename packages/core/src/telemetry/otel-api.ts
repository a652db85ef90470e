// OpenTelemetry without a dependency: `@opentelemetry/api` is an optional peer, loaded once if the
// application installed it. Every hot path asks `activeTracer()` / `activeMeter()` first; without
// the package, or with no provider registered, they return undefined after a property read or two
// and nothing is allocated per message.
import { createRequire } from 'node:module';
import type * as Api from '@opentelemetry/api';

export type OtelApi = typeof Api;
export type { Attributes, Context, Meter, Span, SpanContext, Tracer } from '@opentelemetry/api';

/** The instrumentation scope name of every span and instrument txbox creates. */
export const INSTRUMENTATION_NAME = '@txbox/telemetry';

let api: OtelApi | null | undefined;

/** `@opentelemetry/api`, or undefined when it is not installed. */
export function otelApi(): OtelApi | undefined {
  if (api === undefined) {
    try {
      // The package ships CommonJS and ESM builds: resolve from this file in either (the bundler
      // shims a bare `require` in the ESM build, so only createRequire is reliable in both).
      const load = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
      api = load('@opentelemetry/api') as OtelApi;
    } catch {
      api = null;
    }
  }
  return api ?? undefined;
}

let noopTracerProvider: unknown;
let tracerFor: unknown;
let tracer: Api.Tracer | undefined;

/** The tracer of the registered provider, or undefined when none is registered (spans would be no-ops). */
export function activeTracer(): Api.Tracer | undefined {
  const otel = otelApi();
  if (!otel) return undefined;
  const global = otel.trace.getTracerProvider() as Api.TracerProvider & { getDelegate?: () => Api.TracerProvider };
  const provider = global.getDelegate ? global.getDelegate() : global;
  noopTracerProvider ??= new otel.ProxyTracerProvider().getDelegate();
  if (provider === noopTracerProvider) return undefined;
  if (provider !== tracerFor) {
    tracer = provider.getTracer(INSTRUMENTATION_NAME);
    tracerFor = provider;
  }
  return tracer;
}

let meterFor: unknown;
let meter: Api.Meter | undefined;

/** The meter of the registered provider, or undefined when none is registered. */
export function activeMeter(): Api.Meter | undefined {
  const otel = otelApi();
  if (!otel) return undefined;
  const provider = otel.metrics.getMeterProvider();
  if (provider !== meterFor) {
    const candidate = provider.getMeter(INSTRUMENTATION_NAME);
    meter = candidate === otel.createNoopMeter() ? undefined : candidate;
    meterFor = provider;
  }
  return meter;
}

/**
 * Instruments built once per meter provider: `build` runs again only when the application
 * registers another provider (a test, a restart of its SDK).
 */
export function instrumentsFor<T>(build: (meter: Api.Meter) => T): () => T | undefined {
  let builtFor: Api.Meter | undefined;
  let built: T | undefined;
  return () => {
    const current = activeMeter();
    if (!current) return undefined;
    if (current !== builtFor) {
      built = build(current);
      builtFor = current;
    }
    return built;
  };
}
