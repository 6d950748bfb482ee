// `npm start`: the whole of StepGate in one process — demo upstream, dev OIDC issuer, risk, challenge and
// gateway — over the in-process bus and SQLite, or over Kafka when KAFKA_BROKERS is set. This launcher is
// the one composition root allowed to import the apps (docs/adr/0002); the apps never import each other.
import { readFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { ConfigError, type ConfigIssue, readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import { inProcessBroker } from '@stepgate/kafka';
import { createLogger } from '@stepgate/observability';
import { createChallengeApp } from '../../challenge/src/challenge.bootstrap';
import { loadChallengeConfig } from '../../challenge/src/config';
import { loadDemoUpstreamConfig } from '../../demo-upstream/src/config';
import { startDemoUpstream } from '../../demo-upstream/src/demo-upstream.server';
import { assertDevIssuerAllowed, loadDevIssuerConfig } from '../../dev-issuer/src/config';
import { loadOrCreateDevIssuerKey } from '../../dev-issuer/src/dev-issuer.keys';
import { startDevIssuer } from '../../dev-issuer/src/dev-issuer.server';
import { loadGatewayConfig } from '../../gateway/src/config';
import { createGatewayApp } from '../../gateway/src/gateway.bootstrap';
import { loadRiskConfig } from '../../risk/src/config';
import { createRiskApp } from '../../risk/src/risk.bootstrap';
import { validateStepgateConfig } from './stepgate.config';

/**
 * Validates the whole file as `npm run policy -- check` does (every section, unknown keys, the rules across
 * sections); when it is valid, what each service reads from the environment. Every problem at once.
 */
function checkConfig(runtime: RuntimeEnv): (ConfigIssue | string)[] {
  let text: string;
  try {
    text = readFileSync(runtime.configFile, 'utf8');
  } catch (err) {
    return [`cannot read file: ${(err as Error).message}`];
  }
  const file = validateStepgateConfig(text, runtime.env);
  if (!file.ok) return file.issues;
  const problems: string[] = [];
  for (const load of [
    loadGatewayConfig,
    loadRiskConfig,
    loadChallengeConfig,
    loadDevIssuerConfig,
    loadDemoUpstreamConfig,
  ]) {
    try {
      load(runtime);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const p of err.problems) if (!problems.includes(p)) problems.push(p);
    }
  }
  return problems;
}

const DEMO_BANNER = [
  '',
  '  ##################################################################################################',
  '  #  STEPGATE DEMO (--demo): development mode in a production image. The dev issuer signs a token   #',
  '  #  for ANY name, and keys are development keys under STEPGATE_DATA_DIR. Never expose this.        #',
  '  #  For a deployment: docker compose, or each service with your own secrets (docs/OPERATIONS.md).  #',
  '  ##################################################################################################',
  '',
].join('\n');

/**
 * `--demo` (the image's default command) runs the embedded demo whatever NODE_ENV the image sets:
 * development keys, the dev issuer enabled. It changes this process's environment before anything reads it.
 */
function enterDemoMode(env: NodeJS.ProcessEnv): void {
  // An operator who said no to the dev issuer is not overruled by the image's default command.
  if (env.STEPGATE_DEV_ISSUER_ENABLED === 'false') {
    throw new Error(
      '--demo runs the dev issuer, which signs a token for anyone, and STEPGATE_DEV_ISSUER_ENABLED=false says ' +
        'not to: run the services with your own issuer and secrets instead (docs/OPERATIONS.md)',
    );
  }
  env.NODE_ENV = 'development';
  env.STEPGATE_DEV_ISSUER_ENABLED = 'true';
  console.warn(DEMO_BANNER);
}

async function main(): Promise<void> {
  if (process.argv.includes('--demo')) enterDemoMode(process.env);
  const runtime = readRuntimeEnv(process.env);
  const problems = checkConfig(runtime);
  if (process.argv.includes('--check-config')) {
    if (problems.length > 0) throw new ConfigError(runtime.configFile, problems);
    console.log(`${runtime.configFile}: valid`);
    return;
  }
  if (problems.length > 0) throw new ConfigError(runtime.configFile, problems);

  const started = Date.now();
  const env = process.env;
  const upstreamConfig = loadDemoUpstreamConfig(runtime);
  const upstream = await startDemoUpstream(upstreamConfig.http.host, upstreamConfig.http.port);
  assertDevIssuerAllowed(runtime.env);
  const issuerConfig = loadDevIssuerConfig(runtime);
  const issuer = await startDevIssuer(issuerConfig, await loadOrCreateDevIssuerKey(runtime.dataDir));
  const apps: INestApplication[] = [];
  // One process, one log: Nest's logger is process-wide, so the services share it.
  const logger = createLogger('stepgate', env);
  apps.push(await createRiskApp(runtime, logger));
  apps.push(await createChallengeApp(runtime, logger));
  const gatewayConfig = loadGatewayConfig(runtime);
  apps.push(await createGatewayApp(runtime, logger, gatewayConfig));

  const url = `http://${gatewayConfig.gateway.listen.host}:${gatewayConfig.gateway.listen.port}`;
  const bus =
    runtime.kafkaBrokers.length > 0 ? `Kafka at ${runtime.kafkaBrokers.join(',')}` : 'the in-process bus';
  const db = runtime.databaseUrl ? 'PostgreSQL' : `SQLite under ${runtime.dataDir}`;
  console.log(
    [
      '',
      `StepGate is up at ${url} in ${Date.now() - started} ms (${bus}, ${db}).`,
      `The dev issuer (development only) is on port ${issuer.port}; the demo upstream on port ${upstream.port}.`,
      'Try it:',
      '  TOKEN=$(npm run -s token -- --sub alice)   # or: node dist/apps/dev-issuer/src/token.cli.js --sub alice',
      `  curl -s -H "Authorization: Bearer $TOKEN" -H "X-Device-Id: laptop" ${url}/api/reports/q3`,
      `  curl -si -H "Authorization: Bearer $TOKEN" -H "X-Device-Id: laptop" ${url}/api/payments/42   # step-up`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping (gateway first, so every accepted access event is flushed)`);
    // Reverse start order: the gateway stops taking requests and flushes, then the consumers finish.
    for (const app of apps.reverse()) await app.close();
    await inProcessBroker.drain();
    inProcessBroker.close();
    await issuer.close();
    upstream.server.closeAllConnections();
    upstream.server.close();
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop(signal));
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
