import { inject } from 'vitest';

/** Bootstrap brokers of the Kafka that global setup started or found. */
export const testKafkaBrokers = (): string => inject('kafkaBrokers' as never);
