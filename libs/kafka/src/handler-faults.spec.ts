import { describe, expect, it } from 'vitest';
import { consumerSettingsOf } from './consumer-settings';
import { backoffMs, classifyFault, describeError, isBrokerOutage, RedeliveryLedger } from './handler-faults';

/** What TypeORM throws for a failed query: the driver's fields copied onto it, the driver's error kept. */
function queryFailed(code: string, message: string): Error {
  const driverError = Object.assign(new Error(message), { code });
  return Object.assign(new Error(message), { name: 'QueryFailedError', code, driverError });
}

function kafkaError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(name), { name, ...extra });
}

describe(classifyFault.name, () => {
  it('blames the message for what the store refuses of its data, and for anything it cannot place', () => {
    expect(classifyFault(queryFailed('22021', 'invalid byte sequence for encoding "UTF8": 0x00'))).toBe(
      'message',
    );
    expect(classifyFault(queryFailed('22001', 'value too long for type character varying(128)'))).toBe(
      'message',
    );
    expect(classifyFault(queryFailed('23505', 'duplicate key value'))).toBe('message');
    expect(classifyFault(queryFailed('P0001', 'raised by a trigger'))).toBe('message');
    expect(classifyFault(Object.assign(new Error('constraint'), { code: 'SQLITE_CONSTRAINT' }))).toBe(
      'message',
    );
    expect(classifyFault(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe('message');
    expect(classifyFault({ status: 'error', message: 'Internal server error' })).toBe('message');
    expect(classifyFault(kafkaError('KafkaJSProtocolError', { type: 'MESSAGE_TOO_LARGE' }))).toBe('message');
  });

  it('blames what the handler depends on for outages, which are retried until they end', () => {
    expect(classifyFault(queryFailed('57P03', 'the database system is starting up'))).toBe('infrastructure');
    expect(classifyFault(queryFailed('57P01', 'terminating connection due to administrator command'))).toBe(
      'infrastructure',
    );
    expect(classifyFault(queryFailed('08006', 'connection failure'))).toBe('infrastructure');
    expect(classifyFault(queryFailed('40001', 'could not serialize access'))).toBe('infrastructure');
    expect(classifyFault(queryFailed('42P01', 'relation "risk_x" does not exist'))).toBe('infrastructure');
    expect(classifyFault(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(
      'infrastructure',
    );
    expect(
      classifyFault(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'connect')),
    ).toBe('infrastructure');
    expect(classifyFault(new Error('Connection terminated unexpectedly'))).toBe('infrastructure');
    expect(classifyFault(new Error('timeout exceeded when trying to connect'))).toBe('infrastructure');
    expect(classifyFault(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' }))).toBe('infrastructure');
    expect(
      classifyFault(
        kafkaError('KafkaJSNumberOfRetriesExceeded', { cause: kafkaError('KafkaJSConnectionError') }),
      ),
    ).toBe('infrastructure');
    expect(classifyFault(Object.assign(new Error('no reply'), { code: 'request_timeout' }))).toBe(
      'infrastructure',
    );
  });
});

describe(isBrokerOutage.name, () => {
  it('tells a broker that is away from other crashes', () => {
    expect(
      isBrokerOutage(
        kafkaError('KafkaJSNumberOfRetriesExceeded', { cause: kafkaError('KafkaJSConnectionError') }),
      ),
    ).toBe(true);
    expect(isBrokerOutage(kafkaError('KafkaJSProtocolError', { type: 'NOT_COORDINATOR' }))).toBe(true);
    expect(isBrokerOutage(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isBrokerOutage(kafkaError('KafkaJSProtocolError', { type: 'INVALID_REQUEST' }))).toBe(false);
    expect(isBrokerOutage(new Error('a handler bug'))).toBe(false);
  });
});

describe(describeError.name, () => {
  it('names the error and its code in one line', () => {
    expect(describeError(queryFailed('22021', 'invalid byte'))).toBe(
      'QueryFailedError [22021]: invalid byte',
    );
    expect(describeError(new RangeError('too far'))).toBe('RangeError: too far');
    expect(describeError('plain')).toBe('plain');
  });
});

describe(RedeliveryLedger.name, () => {
  const settings = consumerSettingsOf({
    redelivery: { attempts: 3, backoffMs: 100, maxBackoffMs: 300 },
  }).redelivery;

  it('backs off, doubling up to the bound', () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, settings))).toEqual([100, 200, 300, 300]);
  });

  it('counts only faults of the message toward dead-lettering, every failure toward the backoff', () => {
    const sut = new RedeliveryLedger(() => settings);
    const key = RedeliveryLedger.keyOf('t', 0, '7');

    expect(sut.failed(key, 'infrastructure', 'down', 1000)).toMatchObject({
      attempts: 0,
      exhausted: false,
      retryInMs: 100,
    });
    expect(sut.failed(key, 'message', 'bad', 2000)).toMatchObject({
      attempts: 1,
      exhausted: false,
      retryInMs: 200,
    });
    expect(sut.failed(key, 'message', 'bad', 3000)).toMatchObject({
      attempts: 2,
      exhausted: false,
      retryInMs: 300,
    });
    expect(sut.exhausted(key)).toBe(false);
    expect(sut.failed(key, 'message', 'bad', 4000)).toMatchObject({
      attempts: 3,
      exhausted: true,
      since: 1000,
    });
    expect(sut.exhausted(key)).toBe(true);
    sut.forget(key);
    expect(sut.get(key)).toBeUndefined();
  });

  it('forgets the oldest entries past its bound', () => {
    const sut = new RedeliveryLedger(() => settings, 2);
    for (const offset of ['1', '2', '3'])
      sut.failed(RedeliveryLedger.keyOf('t', 0, offset), 'message', 'bad');
    expect(sut.get(RedeliveryLedger.keyOf('t', 0, '1'))).toBeUndefined();
    expect(sut.get(RedeliveryLedger.keyOf('t', 0, '3'))).toBeDefined();
  });
});
