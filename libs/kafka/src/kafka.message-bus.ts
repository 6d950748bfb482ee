// MessageBus over Kafka through @nestjs/microservices' ClientKafka (kafkajs underneath): idempotent
// producer with acks=-1, and request/reply on `<pattern>.reply` for the patterns the service asks.
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ClientKafka } from '@nestjs/microservices';
import type { EventOf, EventTopic, ReplyOf, RequestOf, RequestPattern } from '@stepgate/contracts';
import { randomUUID } from 'node:crypto';
import { Kafka, type Consumer } from 'kafkajs';
import { lastValueFrom, Subject, timeout, TimeoutError } from 'rxjs';
import { assertEvent, assertRequest, keyOf, parseReply } from './contract.validation';
import { deliverFollowed, headersOf } from './in-process.message-bus';
import { type FollowHandler, MessageBus, type PublishMeta, RequestTimeoutError } from './message-bus';
import { kafkaClientConfig, producerConfig, type KafkaSettings } from './kafka.options';

export class KafkaMessageBus extends MessageBus implements OnApplicationShutdown {
  private readonly logger = new Logger(KafkaMessageBus.name);
  private readonly client: ClientKafka;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly followers = new Set<Consumer>();
  /** `crashed` when a follower gave up (kafkajs will not restart it), `connected` when one (re)joined. */
  readonly followerStatus = new Subject<string>();

  constructor(
    private readonly settings: KafkaSettings,
    private readonly requestPatterns: RequestPattern[],
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

  async follow<T extends EventTopic>(topic: T, handler: FollowHandler<T>): Promise<() => Promise<void>> {
    const { clientId, groupId, maxWaitMs } = this.settings;
    // A group of this instance's own that never commits: it reads from the start every time, and the broker
    // forgets it once the instance is gone.
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
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ message, partition }) =>
        deliverFollowed(topic, message.value?.toString('utf8') ?? null, handler, {
          offset: message.offset,
          partition,
        }),
    });
    this.followers.add(consumer);
    return async () => {
      if (this.followers.delete(consumer)) await consumer.disconnect();
    };
  }

  async request<P extends RequestPattern>(
    pattern: P,
    payload: RequestOf<P>,
    timeoutMs: number,
  ): Promise<ReplyOf<P>> {
    if (!this.requestPatterns.includes(pattern))
      throw new Error(`${pattern} was not declared as a request pattern`);
    assertRequest(pattern, payload);
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

  /** Waits for every accepted publish to be acknowledged, then disconnects. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    await Promise.allSettled([...this.followers].map((c) => c.disconnect()));
    this.followers.clear();
    await this.client
      .close()
      .catch((err: unknown) => this.logger.warn(`closing Kafka client: ${String(err)}`));
  }
}
