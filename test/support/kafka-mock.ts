// Gives tests a Kafka: KAFKA_BROKERS when set (a real cluster), else librdkafka's mock cluster through kcat.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface KafkaForTests {
  brokers: string;
  stop(): Promise<void>;
  /** The mock cluster only: SIGSTOP (connections stay open, nothing answers: a hung broker), and SIGCONT. */
  freeze?(): void;
  thaw?(): void;
}

export async function startKafkaForTests(env: Record<string, string | undefined>): Promise<KafkaForTests> {
  if (env.KAFKA_BROKERS) return { brokers: env.KAFKA_BROKERS, stop: async () => {} };
  if (spawnSync('kcat', ['-V']).error) {
    throw new Error(
      'The tests need Kafka. Set KAFKA_BROKERS=host:port for a real cluster, or install kcat ' +
        "(Debian: apt-get install -y kcat) so the tests can start librdkafka's mock cluster.",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-kafka-'));
  const log = join(dir, 'mock.log');
  const fd = openSync(log, 'w');
  const child: ChildProcess = spawn(
    'kcat',
    ['-X', 'test.mock.num.brokers=3', '-d', 'mock', '-b', 'x:1', '-C', '-t', 'keepalive', '-o', 'end'],
    { stdio: ['ignore', 'ignore', fd], detached: false },
  );
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const match = /bootstrap\.servers=(\S+)/.exec(readFileSync(log, 'utf8'));
    if (match?.[1]) {
      return {
        brokers: match[1],
        freeze: () => child.kill('SIGSTOP'),
        thaw: () => child.kill('SIGCONT'),
        stop: async () => {
          child.kill('SIGCONT');
          child.kill('SIGTERM');
          await sleep(100);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`kcat mock cluster did not start; see ${log}`);
}

/**
 * A Kafka of the suite's own: a fresh mock cluster, or KAFKA_BROKERS' real cluster (shared). Risk's consumer
 * group is new on every start and reads the access topic from its beginning (it must see every event), so on
 * the run's shared mock it would first replay every earlier spec's events (thousands after the kill spec; the
 * mock returns about one message per fetch, and each is a transaction: 4,500 took 16 s on SQLite and over a
 * minute on PostgreSQL). On a cluster of its own it reads only what its suite sent, whatever ran before.
 */
export const startOwnKafka = (): Promise<KafkaForTests> => startKafkaForTests(process.env);
