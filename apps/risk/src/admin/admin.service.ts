// The operator's view of one subject: what risk has learned and what it recently said, with its reasons.
import { Injectable } from '@nestjs/common';
import type { AccessDecision, DeviceStatus, RiskAssessment } from '@stepgate/contracts';
import { DomainError, type HttpStatusList } from '@stepgate/observability';
import { toRiskAssessment } from '../assessments/assessment.mapping';
import type { AssessmentSource } from '../profiles/assessment.entity';
import { AssessmentLogService } from '../profiles/assessment-log.service';
import type { DeviceEntity } from '../profiles/device.entity';
import { RiskPolicyService } from '../policy/risk-policy.service';
import { ProfileReader } from '../profiles/profile.reader';
import type { SightingEntity } from '../profiles/sighting.entity';
import { FEATURES, type Feature } from '@stepgate/risk-scoring';

const RECENT_CHALLENGES = 20;

export interface SightingView {
  value: string;
  seenCount: number;
  firstSeenAt: string;
  lastSeenAt: string;
  /** Subjects (this one included) that have used the value: how common it is. */
  subjects: number;
}

export interface SubjectProfileView {
  subject: string;
  /** The policy (model and config version) scoring runs with now. */
  policyVersion: string;
  /** Allowed accesses learned, and where the subject was last trusted to be (impossible travel starts there). */
  history: {
    accesses: number;
    lastTrustedPlace: { place: string; lat: number; lon: number; accuracyKm: number; time: string } | null;
  };
  /** Accesses (allowed or not) in the longest velocity window, newest first. */
  recentAccesses: { time: string; clientIp: string | null; deviceId: string | null }[];
  devices: {
    deviceId: string;
    status: Exclude<DeviceStatus, 'unknown'>;
    seenCount: number;
    firstSeenAt: string | null;
    lastSeenAt: string | null;
    confirmedAt: string | null;
    lastClientIp: string | null;
    lastUserAgent: string | null;
    lastRoute: string | null;
    browserFamily: string | null;
    osFamily: string | null;
  }[];
  /** Every learned feature value, per feature (network, block, country, region, city, browser, os, device type). */
  features: Record<Feature, SightingView[]>;
  networks: SightingView[];
  countries: SightingView[];
  challenges: {
    challengeId: string;
    result: string;
    time: string;
    deviceId: string | null;
    method: string;
  }[];
  assessments: (RiskAssessment & {
    source: AssessmentSource;
    clientIp: string | null;
    route: string | null;
    decision: AccessDecision | null;
  })[];
}

export class SubjectNotFound extends DomainError {
  constructor(subject: string) {
    super('subject_not_found', `risk knows nothing about subject ${subject}`);
  }
}

export const ADMIN_HTTP_STATUSES: HttpStatusList = [[SubjectNotFound, 404]];

@Injectable()
export class AdminService {
  constructor(
    private readonly profiles: ProfileReader,
    private readonly log: AssessmentLogService,
    private readonly policy: RiskPolicyService,
  ) {}

  async subjectProfile(subject: string, assessmentLimit: number): Promise<SubjectProfileView> {
    const [devices, sightings, challenges, assessments, state, recent] = await Promise.all([
      this.profiles.devicesOf(subject),
      this.profiles.sightingsOf(subject),
      this.profiles.recentChallenges(subject, RECENT_CHALLENGES),
      this.log.recent(subject, assessmentLimit),
      this.profiles.subjectState(subject),
      this.profiles.recentAccessesOf(subject),
    ]);
    if (devices.length + sightings.length + challenges.length + assessments.length + recent.length === 0) {
      throw new SubjectNotFound(subject);
    }
    const population = await this.profiles.populationOf(
      sightings.map((s) => ({ feature: s.kind, value: s.value })),
    );
    const subjectsUsing = (s: SightingEntity) =>
      population.find((p) => p.feature === s.kind && p.value === s.value)?.subjects ?? 0;
    const sightingsOf = (kind: SightingEntity['kind']) =>
      sightings.filter((s) => s.kind === kind).map((s) => sightingView(s, subjectsUsing(s)));
    const located = state && state.locatedAt !== null && state.lat !== null && state.lon !== null;
    return {
      subject,
      policyVersion: this.policy.current.version,
      history: {
        accesses: state?.accessCount ?? 0,
        lastTrustedPlace: located
          ? {
              place: state.place ?? '?',
              lat: state.lat!,
              lon: state.lon!,
              accuracyKm: state.accuracyKm ?? 0,
              time: iso(state.locatedAt!),
            }
          : null,
      },
      recentAccesses: recent.map((r) => ({
        time: iso(r.time),
        clientIp: r.clientIp,
        deviceId: r.deviceId,
      })),
      devices: devices.map(deviceView),
      features: Object.fromEntries(FEATURES.map((f) => [f, sightingsOf(f)])) as Record<
        Feature,
        SightingView[]
      >,
      networks: sightingsOf('network'),
      countries: sightingsOf('country'),
      challenges: challenges.map((c) => ({
        challengeId: c.challengeId,
        result: c.result,
        time: iso(c.occurredAt),
        deviceId: c.deviceId,
        method: c.method,
      })),
      assessments: assessments.map((a) => ({
        ...toRiskAssessment(a),
        source: a.source,
        clientIp: a.clientIp,
        route: a.route,
        decision: a.decision,
      })),
    };
  }
}

function deviceView(d: DeviceEntity): SubjectProfileView['devices'][number] {
  return {
    deviceId: d.deviceId,
    status: d.confirmedAt === null ? 'seen' : 'confirmed',
    seenCount: d.seenCount,
    firstSeenAt: isoOrNull(d.firstSeenAt),
    lastSeenAt: isoOrNull(d.lastSeenAt),
    confirmedAt: isoOrNull(d.confirmedAt),
    lastClientIp: d.lastClientIp,
    lastUserAgent: d.lastUserAgent,
    lastRoute: d.lastRoute,
    browserFamily: d.browserFamily,
    osFamily: d.osFamily,
  };
}

function sightingView(s: SightingEntity, subjects: number): SightingView {
  return {
    value: s.value,
    seenCount: s.seenCount,
    firstSeenAt: iso(s.firstSeenAt),
    lastSeenAt: iso(s.lastSeenAt),
    subjects,
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));
