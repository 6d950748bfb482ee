// Scores contexts, and keeps the profile learning from the events risk consumes. Each consumed event is
// applied exactly once (its inbox entry commits with its effects); its assessment is published after the
// commit, and again, with the same assessment id, whenever the event is redelivered, so a publish lost to a
// crash between commit and send is not lost for good.
import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  TOPICS,
  type AccessEvent,
  type AssessRiskRequest,
  type ChallengeOutcome,
  type RiskAssessment,
} from '@stepgate/contracts';
import { MessageBus } from '@stepgate/kafka';
import type { EntityManager } from 'typeorm';
import { RiskMetrics } from '../health/risk.metrics';
import { RiskPolicyService, type RiskPolicyInForce } from '../policy/risk-policy.service';
import { AssessmentLogService } from '../profiles/assessment-log.service';
import type { AssessmentSource } from '../profiles/assessment.entity';
import { InboxService, type MessageKey } from '../profiles/inbox.service';
import { ProfileReader } from '../profiles/profile.reader';
import { ProfileWriter } from '../profiles/profile.writer';
import type { AccessRecord } from '../profiles/working-set';
import { Transactions } from '../database/transactions';
import {
  observe,
  published,
  type GeoLookup,
  type Observation,
  type Score,
  type ScoringContext,
} from '@stepgate/risk-scoring';
import { toRiskAssessment, type NewAssessmentRecord } from './assessment.mapping';
import { decisionChanges, type Assessed } from './decision-changes';
import { GEO_LOOKUP } from './geo.lookup';
import { learns, sighted } from './learning';

type ApplyWork = (em: EntityManager, assessmentId: string) => Promise<NewAssessmentRecord>;

const DUPLICATE = Symbol('duplicate');

interface Provenance {
  source: AssessmentSource;
  correlationId: string;
  causationId: string;
}

@Injectable()
export class AssessmentService {
  constructor(
    @Inject(GEO_LOOKUP) private readonly geo: GeoLookup,
    private readonly policy: RiskPolicyService,
    private readonly profiles: ProfileReader,
    private readonly learned: ProfileWriter,
    private readonly log: AssessmentLogService,
    private readonly inbox: InboxService,
    private readonly transactions: Transactions,
    private readonly bus: MessageBus,
    private readonly metrics: RiskMetrics,
  ) {}

  /** Read-only: scores a context the gateway has to decide on. Risk learns from access events, not from this. */
  async assess(request: AssessRiskRequest): Promise<RiskAssessment> {
    const context: ScoringContext = {
      subject: request.subject,
      deviceId: request.deviceId,
      deviceSource: request.deviceSource,
      clientIp: request.clientIp,
      userAgent: request.userAgent,
      route: request.route,
      time: Date.now(),
    };
    const score = await this.scoreAt(context);
    this.metrics.assessments.inc({ source: 'request', level: score.level });
    return {
      assessmentId: randomUUID(),
      time: new Date(context.time).toISOString(),
      correlationId: request.correlationId,
      causationId: null,
      subject: request.subject,
      deviceId: request.deviceId,
      score: score.score,
      level: score.level,
      signals: published(score.signals),
      deviceStatus: score.deviceStatus,
      modelVersion: score.modelVersion,
    };
  }

  /** Scores a context at its own time against what risk knows now, changing nothing (also the evaluation's entry). */
  async scoreAt(context: ScoringContext): Promise<Score> {
    const active = this.policy.current;
    const observation = observe(context.clientIp, context.userAgent, this.geo);
    const { profile, population } = await this.profiles.load(context, observation, active.scoring);
    return active.model.score(context, profile, observation, population);
  }

  /** One access event: a batch of one. */
  onAccess(event: AccessEvent): Promise<void> {
    return this.onAccessBatch([event]);
  }

  /**
   * Applies a batch of access events in one transaction: claims them, then scores each access as it was
   * before it happened, records it for velocity and learns from it if its own score says the route let it
   * through (learning.ts: not the gateway's level, which may come from its cache). Events are applied in order,
   * each against the state its predecessors left. Assessments are published once the batch is durable; an
   * event claimed before (a redelivery) only has its assessment published again.
   */
  async onAccessBatch(events: readonly AccessEvent[]): Promise<void> {
    if (events.length === 0) return;
    const first = new Map<string, { event: AccessEvent; assessmentId: string | null }>();
    for (const event of events) {
      // Anonymous traffic has no profile to score against or learn into: recorded, nothing applied.
      if (!first.has(event.eventId))
        first.set(event.eventId, { event, assessmentId: event.subject === null ? null : randomUUID() });
    }
    const items = [...first.values()];
    const active = this.policy.current;
    const { records, duplicates } = await this.transactions.run(async (em) => {
      const claimed = await this.inbox.claimMany(
        em,
        TOPICS.access,
        items.map((i) => ({ messageId: i.event.eventId, assessmentId: i.assessmentId })),
        Date.now(),
      );
      const fresh = items.filter((i) => claimed.has(i.event.eventId));
      return {
        records: await this.applyAccesses(em, active, fresh),
        duplicates: items.filter((i) => !claimed.has(i.event.eventId)).map((i) => i.event.eventId),
      };
    });
    const ignored = items.length - duplicates.length - records.length;
    if (records.length > 0)
      this.metrics.messages.inc({ topic: TOPICS.access, outcome: 'applied' }, records.length);
    if (ignored > 0) this.metrics.messages.inc({ topic: TOPICS.access, outcome: 'ignored' }, ignored);
    const redelivered = events.length - items.length + duplicates.length;
    if (redelivered > 0)
      this.metrics.messages.inc({ topic: TOPICS.access, outcome: 'duplicate' }, redelivered);
    for (const r of records) this.metrics.assessments.inc({ source: r.source, level: r.level });

    // Every event's assessment, in the order the events came (a subject's assessments stay in order): a
    // redelivered event's again, with the same id, since its first delivery may have crashed before
    // publishing. None for a message that produced no assessment, or whose record retention pruned.
    const byEvent = new Map(records.map((r) => [r.causationId, r]));
    for (const r of await this.recorded(TOPICS.access, duplicates)) byEvent.set(r.causationId, r);
    await this.publish(
      events.flatMap((e): Assessed[] => {
        const record = byEvent.get(e.eventId);
        return record ? [{ record, gatewayLevel: e.riskLevel }] : [];
      }),
    );
  }

  private async applyAccesses(
    em: EntityManager,
    active: RiskPolicyInForce,
    items: readonly { event: AccessEvent; assessmentId: string | null }[],
  ): Promise<NewAssessmentRecord[]> {
    const work = items.flatMap(({ event, assessmentId }) => {
      if (event.subject === null || assessmentId === null) return [];
      const access: AccessRecord = {
        eventId: event.eventId,
        subject: event.subject,
        deviceId: event.deviceId,
        deviceSource: event.deviceSource,
        clientIp: event.clientIp,
        userAgent: event.userAgent,
        route: event.route,
        time: Date.parse(event.time),
      };
      const observation = observe(access.clientIp, access.userAgent, this.geo);
      return [{ event, assessmentId, access, observation }];
    });
    if (work.length === 0) return [];
    const set = await this.profiles.loadWorkingSet(em, work, active.scoring);
    const now = Date.now();
    const records = work.map(({ event, assessmentId, access, observation }): NewAssessmentRecord => {
      const profile = set.profiles.get(access.subject)!;
      const before = profile.snapshot(access.deviceId);
      const { monitored, ...score } = active.model.score(
        access,
        before,
        observation,
        set.population.view(observation),
      );
      this.metrics.countMonitored(monitored);
      profile.recordAccess(access, active.scoring.velocity);
      // Risk's own level for the access, not the gateway's (see learning.ts).
      if (learns(event, score.level, active.learning, before.historySize)) {
        profile.learnAccess(access, observation, active.config.retention, set.population);
      } else if (sighted(event, score.level, active.learning)) {
        profile.sightDevice(access);
      }
      return {
        assessmentId,
        subject: access.subject,
        deviceId: access.deviceId,
        time: now,
        clientIp: access.clientIp,
        source: 'access',
        correlationId: event.correlationId,
        causationId: event.eventId,
        route: event.route,
        decision: event.decision,
        ...score,
      };
    });
    await this.learned.saveWorkingSet(em, set, active.scoring);
    await this.log.appendMany(em, records);
    return records;
  }

  /**
   * Records the result (a pass confirms the device) and scores the device afresh, in the context of its last
   * allowed access; gateways drop the subject's cached decisions on the decision change that follows.
   */
  async onChallengeOutcome(outcome: ChallengeOutcome): Promise<void> {
    const time = Date.parse(outcome.time);
    // Outcomes carry no event id; a challenge reports a given result at a given instant once.
    const key = {
      topic: TOPICS.challengeOutcome,
      messageId: `${outcome.challengeId}:${outcome.result}:${time}`,
    };
    const result = outcome.result;
    // An expired challenge says nothing about the user or the device.
    if (result === 'expired') return this.applyOnce(key, null);
    const provenance: Provenance = {
      source: 'challenge_outcome',
      correlationId: outcome.correlationId,
      causationId: outcome.challengeId,
    };
    return this.applyOnce(key, async (em, assessmentId) => {
      await this.learned.recordChallenge(em, {
        challengeId: outcome.challengeId,
        result,
        time,
        subject: outcome.subject,
        deviceId: outcome.deviceId,
        method: outcome.method,
      });
      const device =
        outcome.deviceId === null ? null : await this.profiles.device(outcome.subject, outcome.deviceId, em);
      const context: ScoringContext = {
        subject: outcome.subject,
        deviceId: outcome.deviceId,
        // The outcome does not say where the device id came from.
        deviceSource: null,
        clientIp: device?.lastClientIp ?? null,
        userAgent: device?.lastUserAgent ?? null,
        route: device?.lastRoute ?? null,
        time,
      };
      const active = this.policy.current;
      const observation = observe(context.clientIp, context.userAgent, this.geo);
      return this.scoreAndLog(em, active, assessmentId, context, observation, provenance);
    });
  }

  private async scoreAndLog(
    em: EntityManager,
    active: RiskPolicyInForce,
    assessmentId: string,
    context: ScoringContext,
    observation: Observation,
    provenance: Provenance,
  ): Promise<NewAssessmentRecord> {
    const { profile, population } = await this.profiles.load(context, observation, active.scoring, em);
    const { monitored, ...score } = active.model.score(context, profile, observation, population);
    this.metrics.countMonitored(monitored);
    const record: NewAssessmentRecord = {
      route: null,
      decision: null,
      assessmentId,
      subject: context.subject,
      deviceId: context.deviceId,
      time: Date.now(),
      clientIp: context.clientIp,
      ...provenance,
      ...score,
    };
    await this.log.appendMany(em, [record]);
    return record;
  }

  /**
   * Claims the message and applies it in one transaction; a message claimed before (a redelivery, or another
   * consumer racing on it during a rebalance) is not applied again, only its assessment re-published.
   * `apply` is null for a message that is recorded but has nothing to apply.
   */
  private async applyOnce(key: MessageKey, apply: ApplyWork | null): Promise<void> {
    const assessmentId = apply ? randomUUID() : null;
    const applied = await this.transactions.run(async (em) => {
      // Claimed first, so a concurrent consumer of the same message waits on it instead of doing the work.
      if (!(await this.inbox.claim(em, key, assessmentId, Date.now()))) return DUPLICATE;
      return apply && assessmentId ? apply(em, assessmentId) : null;
    });
    if (applied === DUPLICATE) {
      this.metrics.messages.inc({ topic: key.topic, outcome: 'duplicate' });
      // The first delivery may have crashed between its commit and its publish: publish again, same id.
      const records = await this.recorded(key.topic, [key.messageId]);
      return this.publish(records.map((record) => ({ record, gatewayLevel: null })));
    }
    this.metrics.messages.inc({ topic: key.topic, outcome: applied ? 'applied' : 'ignored' });
    if (!applied) return;
    this.metrics.assessments.inc({ source: applied.source, level: applied.level });
    await this.publish([{ record: applied, gatewayLevel: null }]);
  }

  /** The assessments recorded for messages applied before. */
  private async recorded(topic: string, messageIds: readonly string[]): Promise<NewAssessmentRecord[]> {
    if (messageIds.length === 0) return [];
    const entries = await this.inbox.findMany(topic, messageIds);
    const ids = entries.flatMap((e) => (e.assessmentId === null ? [] : [e.assessmentId]));
    return ids.length === 0 ? [] : this.log.byIds(ids);
  }

  /** The assessments, then the decision changes among them (decision-changes.ts) for gateways to follow. */
  private async publish(assessed: readonly Assessed[]): Promise<void> {
    await this.bus.publishBatch(
      TOPICS.riskAssessment,
      assessed.map((a) => toRiskAssessment(a.record)),
      (a) => ({ correlationId: a.correlationId, causationId: a.causationId ?? undefined }),
    );
    const changes = decisionChanges(assessed);
    if (changes.length === 0) return;
    await this.bus.publishBatch(TOPICS.decisionChange, changes, (c) => ({
      correlationId: c.correlationId,
      causationId: c.causationId,
    }));
    for (const c of changes) this.metrics.decisionChanges.inc({ cause: c.cause });
  }
}
