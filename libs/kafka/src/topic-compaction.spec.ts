import { ConfigResourceTypes, type DescribeConfigResponse } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { compactionReadiness, compactionVerdict, TopicCompaction } from './topic-compaction';
import type { MessagingOptions } from './message-bus';

const TOPIC = 'stepgate.policy.v1';

function described(cleanupPolicy: string | null, errorCode = 0): { response: DescribeConfigResponse } {
  return {
    response: {
      throttleTime: 0,
      resources: [
        {
          resourceName: TOPIC,
          resourceType: ConfigResourceTypes.TOPIC,
          errorCode,
          errorMessage: errorCode === 0 ? '' : 'refused',
          configEntries:
            cleanupPolicy === null
              ? []
              : [
                  {
                    configName: 'cleanup.policy',
                    configValue: cleanupPolicy,
                    isDefault: false,
                    configSource: 1,
                    isSensitive: false,
                    readOnly: false,
                    configSynonyms: [],
                  },
                ],
        },
      ],
    },
  };
}

describe(compactionVerdict.name, () => {
  it('accepts compact alone: delete, even beside compact, would drop an unchanged policy after retention', () => {
    expect(compactionVerdict(described('compact'), TOPIC)).toEqual({ state: 'compacted' });
    expect(compactionVerdict(described('delete'), TOPIC)).toEqual({
      state: 'not_compacted',
      cleanupPolicy: 'delete',
    });
    expect(compactionVerdict(described('compact,delete'), TOPIC)).toEqual({
      state: 'not_compacted',
      cleanupPolicy: 'compact,delete',
    });
  });

  it('tells a missing topic from a question the cluster did not answer', () => {
    expect(compactionVerdict(described(null, 3), TOPIC)).toEqual({ state: 'missing' });
    expect(
      compactionVerdict(
        { error: Object.assign(new Error('x'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' }) },
        TOPIC,
      ),
    ).toEqual({ state: 'missing' });
    // What librdkafka's mock cluster answers: it names no controller and has no DescribeConfigs.
    const mock = Object.assign(new Error('Broker 0 not found in the cached metadata'), {
      name: 'KafkaJSBrokerNotFound',
    });
    expect(compactionVerdict({ error: mock }, TOPIC)).toEqual({
      state: 'unknown',
      why: 'DescribeConfigs failed: KafkaJSBrokerNotFound: Broker 0 not found in the cached metadata',
    });
    expect(compactionVerdict(described(null), TOPIC)).toMatchObject({ state: 'unknown' });
    expect(compactionVerdict(described('compact', 29), TOPIC)).toMatchObject({ state: 'unknown' });
  });
});

describe(compactionReadiness.name, () => {
  it('refuses readiness only for a topic known not to be compacted', () => {
    expect(compactionReadiness(TOPIC, { state: 'compacted' })).toEqual({});
    expect(compactionReadiness(TOPIC, { state: 'not_compacted', cleanupPolicy: 'delete' }).reason).toMatch(
      /^stepgate\.policy\.v1 has cleanup\.policy=delete; it must be compact/,
    );
    expect(compactionReadiness(TOPIC, { state: 'unknown', why: 'no answer' })).toEqual({
      warning: 'cannot tell whether stepgate.policy.v1 is compacted (no answer); not checked',
    });
    expect(compactionReadiness(TOPIC, { state: 'missing' }).warning).toMatch(/does not exist yet/);
    expect(compactionReadiness(TOPIC, 'pending')).toEqual({
      warning: `checking whether ${TOPIC} is compacted`,
    });
  });
});

describe(TopicCompaction.name, () => {
  it('has nothing to check on the in-process bus', async () => {
    const sut = new TopicCompaction({ brokers: [] } as unknown as MessagingOptions);
    expect(await sut.verdict(TOPIC)).toBeNull();
  });
});
