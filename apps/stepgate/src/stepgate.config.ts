// The whole config file: every service's section, strictly, from the services' own schemas (no second copy).
// What `npm run policy -- check` and the embedded launcher validate, and what config/stepgate.schema.json is
// generated from. Lives in the launcher because it is the one place allowed to import every app (adr/0002).
import { configJsonSchema, validateConfig, type ConfigValidation } from '@stepgate/config';
import { z } from 'zod';
import { challengeConfigSchema } from '../../challenge/src/config';
import { demoUpstreamConfigSchema } from '../../demo-upstream/src/config';
import { devIssuerConfigSchema } from '../../dev-issuer/src/config';
import { gatewayConfigSchema } from '../../gateway/src/config';
import { riskConfigSchema } from '../../risk/src/config';

/** Each section as its owner defines it; an unknown top-level key is an error. */
export const stepgateConfigSchema = z.strictObject({
  gateway: gatewayConfigSchema.shape.gateway,
  policy: gatewayConfigSchema.shape.policy,
  risk: riskConfigSchema.shape.risk,
  challenge: challengeConfigSchema.shape.challenge,
  devIssuer: devIssuerConfigSchema.shape.devIssuer,
  demoUpstream: demoUpstreamConfigSchema.shape.demoUpstream,
});
export type StepgateConfig = z.infer<typeof stepgateConfigSchema>;

/** Every service's view of the file, for the rules that span sections (route upstreams, acr levels, issuers). */
const serviceSchemas: readonly z.ZodType[] = [
  gatewayConfigSchema,
  riskConfigSchema,
  challengeConfigSchema,
  devIssuerConfigSchema,
  demoUpstreamConfigSchema,
];

/** Validates config text as every service would at start, plus the file's own shape; never throws for content. */
export function validateStepgateConfig(
  text: string,
  env: Record<string, string | undefined>,
): ConfigValidation<StepgateConfig> {
  return validateConfig(stepgateConfigSchema, text, { env, also: serviceSchemas });
}

export const SCHEMA_FILE = 'config/stepgate.schema.json';

/** The committed JSON Schema's text; a unit spec fails when the file differs. */
export function renderJsonSchema(): string {
  const schema = configJsonSchema(stepgateConfigSchema, {
    title: 'StepGate configuration',
    description:
      `Generated from the services' zod schemas by \`npm run policy:schema\`; do not edit. ` +
      'Rules across sections (route upstreams, acr levels) are checked by `npm run policy -- check FILE`.',
  });
  return `${JSON.stringify(schema, null, 2)}\n`;
}
