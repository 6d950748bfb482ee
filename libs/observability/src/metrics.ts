import { collectDefaultMetrics, Registry } from 'prom-client';

/** One registry per service, so several services in one process (embedded mode) do not collide. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'stepgate_' });
  return registry;
}
