// MessageBus over Kafka through @nestjs/microservices' ClientKafka (kafkajs underneath): idempotent
// producer with acks=-1, and request/reply on `<pattern>.reply` for the patterns the service asks. Started
// without the broker (the gateway), it connects and follows in the background, retrying.
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ClientKafka } from '@nestjs/microservices';
import type { EventOf, EventTopic, ReplyOf, RequestOf, RequestPattern } from '@stepgate/contracts';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, type Consumer } from 'kafkajs';
import { lastValueFrom, Subject, timeout, TimeoutError } from 'rxjs';
import { assertEvent, assertRequest, keyOf, parseReply } from './contract.validation';
import { deliverFollowed, headersOf } from './in-process.message-bus';
import {
  BrokerUnavailableError,
  type FollowHandler,
  type FollowOptions,
  MessageBus,
  type PublishMeta,
  RequestTimeoutError,
} from './message-bus';
import { kafkaClientConfig, producerConfig, type KafkaSettings } from './kafka.options';

/** Without the broker, how long shutdown waits for acknowledgements, and for each disconnect. */
const SHUTDOWN_WAIT_MS = 5_000;
const RETRY_MAX_MS = 30_000;

export class KafkaMessageBus extends MessageBus implements OnApplicationShutdown {
  private readonly logger = new Logger(KafkaMessageBus.name);
  private readonly client: ClientKafka;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly followers = new Set<Consumer>();
  /** `crashed` when a follower gave up (kafkajs will not restart it), `connected` when one (re)joined. */
  readonly followerStatus = new Subject<string>();
  /** Followers disconnecting in the background (`startWithoutBroker`). */
  private readonly leaving = new Set<Promise<unknown>>();
  private connected = false;
  /** Resolves true once connected, false if the bus shut down first (`connectInBackground`). */
  connection: Promise<boolean> = Promise.resolve(true);
  /** Aborted at shutdown: background connection attempts stop. */
  private readonly closing = new AbortController();

  /** `startWithoutBroker`: see MessagingOptions. */
  constructor(
    private readonly settings: KafkaSettings,
    private readonly requestPatterns: RequestPattern[],
    private readonly startWithoutBroker = false,
  ) {
    super();
    this.client = new ClientKafka({
      client: kafkaClientConfig(settings, `${settings.clientId}-client`),
      consumer: {
        groupId: `${settings.groupId}-replies`,
        maxWaitTimeInMs: settings.maxWaitMs,
        allowAutoTopicCreation: true,
      },
      producer: producerConfig(settings),
      send: { acks: -1 },
      postfixId: '',
      producerOnlyMode: requestPatterns.length === 0,
    });
    for (const pattern of requestPatterns) this.client.subscribeToResponseOf(pattern);
  }

  async connect(): Promise<void> {
    await this.client.connect();
    this.connected = true;
  }

  /** Whether the client reached the broker once (kafkajs reconnects by itself after that). */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Connects without waiting: retried until the broker answers or the bus shuts down. */
  connectInBackground(): void {
    this.connection = this.retry('connecting to Kafka', () => this.connect());
    void this.connection.then((done) => done && this.logger.log('connected to Kafka'));
  }

  /** Runs `attempt` until it succeeds (true) or the bus shuts down (false), backing off up to 30 s. */
  private async retry(what: string, attempt: () => Promise<void>): Promise<boolean> {
    for (let delay = 1000; !this.closing.signal.aborted; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      try {
        await attempt();
        return true;
      } catch (err) {
        if (this.closing.signal.aborted) return false;
        this.logger.warn(`${what}: ${String(err)}; retrying in ${delay / 1000} s`);
        await sleep(delay, undefined, { signal: this.closing.signal }).catch(() => undefined);
      }
    }
    return false;
  }

  async publish<T extends EventTopic>(topic: T, value: EventOf<T>, meta: PublishMeta = {}): Promise<void> {
    const valid = assertEvent(topic, value);
    await this.track(
      lastValueFrom(
        this.client.emit(topic, {
          key: keyOf(topic, valid),
          value: JSON.stringify(valid),
          headers: headersOf(meta),
        }),
        { defaultValue: undefined },
      ),
    );
  }

  /** Remembers a send until the broker acknowledged it, so shutdown can wait for it. */
  private async track(sent: Promise<unknown>): Promise<void> {
    this.inFlight.add(sent);
    try {
      await sent;
    } finally {
      this.inFlight.delete(sent);
    }
  }

  async publishBatch<T extends EventTopic>(
    topic: T,
    values: EventOf<T>[],
    metaOf?: (value: EventOf<T>) => PublishMeta,
  ): Promise<void> {
    if (values.length === 0) return;
    const messages = values.map((value) => {
      const valid = assertEvent(topic, value);
      const headers = metaOf ? headersOf(metaOf(valid)) : {};
      return { key: keyOf(topic, valid), value: JSON.stringify(valid), headers };
    });
    await this.track(lastValueFrom(this.client.emitBatch(topic, { messages }), { defaultValue: undefined }));
  }

  /** Without the broker at start (`startWithoutBroker`), resolves at once and subscribes when it can. */
  async follow<T extends EventTopic>(
    topic: T,
    handler: FollowHandler<T>,
    options: FollowOptions = {},
  ): Promise<() => Promise<void>> {
    let current: Consumer | null = null;
    let stopped = false;
    let caughtUp = false;
    const start = async () => {
      const consumer = this.follower(topic);
      try {
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        // Where the topic ends now, per partition: handled up to there, the follower has caught up.
        const behind =
          options.onCaughtUp && !caughtUp ? await this.lastOffsets(topic) : new Map<number, number>();
        const progress = (partition: number, offset: string) => {
          const last = behind.get(partition);
          if (last !== undefined && Number(offset) >= last) behind.delete(partition);
          if (behind.size === 0 && !caughtUp) {
            caughtUp = true;
            options.onCaughtUp?.();
          }
        };
        // A batch the consumer got past counts too: the last offset may be a record no handler sees (a
        // transaction marker, or one compaction removed).
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
          progress(payload.partition, payload.lastOffset),
        );
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ message, partition }) => {
            await deliverFollowed(topic, message.value?.toString('utf8') ?? null, handler, {
              offset: message.offset,
              partition,
            });
            progress(partition, message.offset);
          },
        });
        if (behind.size === 0) progress(-1, '0');
      } catch (err) {
        await consumer.disconnect().catch(() => undefined);
        throw err;
      }
      if (stopped) return void (await consumer.disconnect());
      current = consumer;
      this.followers.add(consumer);
    };
    if (this.startWithoutBroker) void this.retry(`following ${topic}`, start);
    else await start();
    return async () => {
      stopped = true;
      if (!current || !this.followers.delete(current)) return;
      const leaving = current.disconnect();
      // A broker that is away would hold the caller (a shutdown) for as long: the bus's own shutdown waits.
      if (!this.startWithoutBroker) return leaving;
      this.leaving.add(leaving.catch(() => undefined));
    };
  }

  /** The offset of each non-empty partition's last record. */
  private async lastOffsets(topic: string): Promise<Map<number, number>> {
    const admin = new Kafka(kafkaClientConfig(this.settings, `${this.settings.clientId}-follow`)).admin();
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      return new Map(
        offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high) - 1]),
      );
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * A consumer in a group of this instance's own that never commits: it reads from the start every time, and
   * the broker forgets it once the instance is gone.
   */
  private follower(topic: EventTopic): Consumer {
    const { clientId, groupId, maxWaitMs } = this.settings;
    const consumer = new Kafka(kafkaClientConfig(this.settings, `${clientId}-follow`)).consumer({
      groupId: `${groupId}-follow-${randomUUID()}`,
      maxWaitTimeInMs: maxWaitMs,
      allowAutoTopicCreation: true,
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error(`following ${topic}: ${String(payload.error)} (restart: ${payload.restart})`);
      // An instance that stopped following would keep a stale policy: unhealthy, so it gets restarted.
      if (!payload.restart) this.followerStatus.next('crashed');
    });
    consumer.on(consumer.events.GROUP_JOIN, () => this.followerStatus.next('connected'));
    return consumer;
  }

  async request<P extends RequestPattern>(
    pattern: P,
    payload: RequestOf<P>,
    timeoutMs: number,
  ): Promise<ReplyOf<P>> {
    if (!this.requestPatterns.includes(pattern))
      throw new Error(`${pattern} was not declared as a request pattern`);
    assertRequest(pattern, payload);
    // Not even connected: no reply can come, so the caller's fallback need not wait for the deadline.
    if (this.startWithoutBroker && !this.connected) throw new BrokerUnavailableError(pattern);
    try {
      const reply: unknown = await lastValueFrom(
        this.client
          .send(pattern, {
            key: payload.correlationId,
            value: JSON.stringify(payload),
            headers: headersOf(payload),
          })
          .pipe(timeout(timeoutMs)),
      );
      return parseReply(pattern, reply);
    } catch (err) {
      if (err instanceof TimeoutError) throw new RequestTimeoutError(pattern, timeoutMs);
      throw err;
    }
  }

  /**
   * Waits for every accepted publish to be acknowledged, then disconnects. Started without the broker, it
   * waits a few seconds at most for each step: a broker that is away would otherwise hold the process past
   * its stop grace period (the gateway has already spilled what Kafka did not acknowledge).
   */
  async onApplicationShutdown(): Promise<void> {
    this.closing.abort();
    const followers = [...this.followers];
    this.followers.clear();
    const pending = this.inFlight.size;
    await this.bounded(
      (async () => {
        await Promise.allSettled(this.inFlight);
        await Promise.allSettled([
          ...followers.map((c) => c.disconnect()),
          ...this.leaving,
          this.client
            .close()
            .catch((err: unknown) => this.logger.warn(`closing Kafka client: ${String(err)}`)),
        ]);
      })(),
      `disconnecting from Kafka (${pending} publishes were unacknowledged)`,
    );
  }

  /** The step itself, or (started without the broker) at most SHUTDOWN_WAIT_MS of it. */
  private async bounded(step: Promise<unknown>, what: string): Promise<void> {
    if (!this.startWithoutBroker) {
      await step;
      return;
    }
    const timer = sleep(SHUTDOWN_WAIT_MS, 'timeout' as const, { ref: false });
    if ((await Promise.race([step.then(() => 'done' as const), timer])) === 'timeout')
      this.logger.warn(`${what}: gave up after ${SHUTDOWN_WAIT_MS / 1000} s`);
  }
}
