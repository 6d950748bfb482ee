// The process-level settings every service shares (where Kafka and the database are); read once, in each main.ts.
import { resolve } from 'node:path';
import { resolveSecretFiles } from './secrets';

export interface RuntimeEnv {
  configFile: string;
  /** Kafka bootstrap brokers; empty means the embedded in-process bus. */
  kafkaBrokers: string[];
  /** PostgreSQL URL; undefined means SQLite under dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Low in tests against the mock cluster, which does not wake a waiting fetch early. */
  kafkaMaxWaitMs: number;
  /** KAFKA_IDEMPOTENT=false turns the idempotent producer off (only for librdkafka's mock cluster). */
  kafkaIdempotent: boolean;
  instanceId: string;
  /** Consumer groups are `<prefix>-<service>`: lets several deployments (or test runs) share a cluster. */
  kafkaGroupPrefix: string;
  /** The environment, each secret already taken from NAME or NAME_FILE (secrets.ts). */
  env: Record<string, string | undefined>;
}

/** Throws ConfigError when a secret is given twice (NAME and NAME_FILE) or its file cannot be read. */
export function readRuntimeEnv(processEnv: Record<string, string | undefined>): RuntimeEnv {
  const env = resolveSecretFiles(processEnv);
  const brokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const maxWait = Number(env.KAFKA_MAX_WAIT_MS ?? '100');
  return {
    configFile: resolve(env.STEPGATE_CONFIG ?? 'config/stepgate.yaml'),
    kafkaBrokers: brokers,
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: resolve(env.STEPGATE_DATA_DIR ?? 'data'),
    kafkaMaxWaitMs: Number.isFinite(maxWait) && maxWait > 0 ? maxWait : 100,
    kafkaIdempotent: env.KAFKA_IDEMPOTENT !== 'false',
    kafkaGroupPrefix: env.STEPGATE_KAFKA_GROUP_PREFIX || 'stepgate',
    instanceId: env.STEPGATE_INSTANCE_ID ?? `${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    env,
  };
}
