import { loadConfig, type RuntimeEnv } from '@stepgate/config';
import { z } from 'zod';

export const demoUpstreamConfigSchema = z.looseObject({
  demoUpstream: z.strictObject({
    http: z.strictObject({ host: z.string().min(1), port: z.coerce.number().int().min(0).max(65535) }),
  }),
});
export type DemoUpstreamConfig = z.infer<typeof demoUpstreamConfigSchema>['demoUpstream'];

export function loadDemoUpstreamConfig(runtime: RuntimeEnv): DemoUpstreamConfig {
  return loadConfig(demoUpstreamConfigSchema, { file: runtime.configFile, env: runtime.env }).demoUpstream;
}
