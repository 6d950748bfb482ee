// The operator's view of one subject: what risk has learned and what it recently said, with its reasons.
import { Injectable } from '@nestjs/common';
import type { DeviceStatus, RiskAssessment } from '@stepgate/contracts';
import { DomainError } from '@stepgate/observability';
import { toRiskAssessment } from '../assessments/assessment.mapping';
import type { AssessmentSource } from '../profiles/assessment.entity';
import { AssessmentLog } from '../profiles/assessment-log.service';
import type { Device } from '../profiles/device.entity';
import { ProfileService } from '../profiles/profile.service';
import type { Sighting } from '../profiles/sighting.entity';

const RECENT_CHALLENGES = 20;

export interface SightingView {
  value: string;
  seenCount: number;
  firstSeenAt: string;
  lastSeenAt: string;
}

export interface SubjectProfileView {
  subject: string;
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
  }[];
  networks: SightingView[];
  countries: SightingView[];
  challenges: {
    challengeId: string;
    result: string;
    time: string;
    deviceId: string | null;
    method: string;
  }[];
  assessments: (RiskAssessment & { source: AssessmentSource; clientIp: string | null })[];
}

export class SubjectNotFound extends DomainError {
  constructor(subject: string) {
    super('subject_not_found', `risk knows nothing about subject ${subject}`, 404);
  }
}

@Injectable()
export class AdminService {
  constructor(
    private readonly profiles: ProfileService,
    private readonly log: AssessmentLog,
  ) {}

  async subjectProfile(subject: string, assessmentLimit: number): Promise<SubjectProfileView> {
    const [devices, sightings, challenges, assessments] = await Promise.all([
      this.profiles.devicesOf(subject),
      this.profiles.sightingsOf(subject),
      this.profiles.recentChallenges(subject, RECENT_CHALLENGES),
      this.log.recent(subject, assessmentLimit),
    ]);
    if (devices.length + sightings.length + challenges.length + assessments.length === 0) {
      throw new SubjectNotFound(subject);
    }
    const sightingsOf = (kind: Sighting['kind']) =>
      sightings.filter((s) => s.kind === kind).map(sightingView);
    return {
      subject,
      devices: devices.map(deviceView),
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
      })),
    };
  }
}

function deviceView(d: Device): SubjectProfileView['devices'][number] {
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
  };
}

function sightingView(s: Sighting): SightingView {
  return {
    value: s.value,
    seenCount: s.seenCount,
    firstSeenAt: iso(s.firstSeenAt),
    lastSeenAt: iso(s.lastSeenAt),
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));
