// The risk service: consumes access events and challenge outcomes, answers assess requests (over Kafka, and
// directly over HTTP to the gateway: adr/0016-direct-risk-path), and serves health, metrics and the admin
// view over HTTP.
import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { RuntimeEnv } from '@stepgate/config';
import { MessageBus, MessagingModule, type MessagingOptions } from '@stepgate/kafka';
import { AdminModule } from './admin/admin.module';
import { AssessmentsModule } from './assessments/assessments.module';
import { RISK_CONFIG, type RiskConfig } from './config';
import { ConsoleModule } from './console/console.module';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { PolicyModule } from './policy/policy.module';
import { RISK_RUNTIME } from './policy/policy-versions.service';
import { RiskPolicyService } from './policy/risk-policy.service';
import { RISK_DB, riskDataSourceOptions } from './database/risk.data-source';

/**
 * How risk talks to the bus: one consumer group for every instance, and it must see every event. The producer
 * and the policy follower connect in the background, so starting waits for neither (a follower's fresh group
 * alone takes seconds to form): the HTTP port, with the gateway's direct assessments, opens as soon as the
 * database answers, on the newest policy version recorded there (PolicyVersionsService). The consumer still needs
 * the broker to start (risk.bootstrap.ts).
 */
export function riskMessagingOptions(runtime: RuntimeEnv, config: RiskConfig): MessagingOptions {
  return {
    clientId: 'stepgate-risk',
    groupId: config.kafka.groupId ?? `${runtime.kafkaGroupPrefix}-risk`,
    requests: [],
    brokers: runtime.kafkaBrokers,
    maxWaitMs: runtime.kafkaMaxWaitMs,
    idempotent: runtime.kafkaIdempotent,
    fromBeginning: true,
    startWithoutBroker: true,
  };
}

@Module({})
export class RiskModule {
  static forRoot(config: RiskConfig, runtime: RuntimeEnv): DynamicModule {
    return {
      module: RiskModule,
      global: true,
      imports: [
        MessagingModule.forRoot(riskMessagingOptions(runtime, config)),
        TypeOrmModule.forRootAsync({
          name: RISK_DB,
          // A few quick retries: a database that is down at start is reported, not waited on for minutes.
          useFactory: () => ({ ...riskDataSourceOptions(runtime), retryAttempts: 3, retryDelay: 1000 }),
        }),
        EventsModule,
        AssessmentsModule,
        PolicyModule,
        AdminModule,
        ConsoleModule,
        HealthModule,
      ],
      providers: [
        { provide: RISK_CONFIG, useValue: config },
        { provide: RISK_RUNTIME, useValue: runtime },
        {
          provide: RiskPolicyService,
          inject: [MessageBus],
          useFactory: (bus: MessageBus) => new RiskPolicyService(config, runtime, bus),
        },
      ],
      exports: [RISK_CONFIG, RISK_RUNTIME, RiskPolicyService],
    };
  }
}
