// Every Kafka topic StepGate uses, versioned: a breaking change is a new version, never an edit.
export const TOPICS = {
  access: 'stepgate.access.v3',
  /** Every assessment risk makes of an access or a challenge result: the explainable record, not followed by gateways. */
  riskAssessment: 'stepgate.risk.assessment.v1',
  /** What gateways follow to drop cached decisions: only changes, never the traffic (adr/0019). */
  decisionChange: 'stepgate.risk.decision.v1',
  challengeOutcome: 'stepgate.challenge.outcome.v1',
  factorChanged: 'stepgate.factor.changed.v1',
  deadLetter: 'stepgate.deadletter.v1',
  /** Compacted, one key: the newest policy version (docs/POLICY.md, adr/0013). */
  policyVersion: 'stepgate.policy.v1',
  /** Session ids ended early (logout, elevation); retention >= the absolute session timeout (adr/0008). */
  sessionRevoked: 'stepgate.session.revoked.v1',
} as const;

/** Topics whose consumers need only the newest value per key: created with cleanup.policy=compact. */
export const COMPACTED_TOPICS: readonly string[] = [TOPICS.policyVersion];

/** Request/reply patterns; the reply travels on `<pattern>.reply` (the @nestjs/microservices convention). */
export const REQUESTS = {
  assessRisk: 'stepgate.risk.assess.v2',
  createChallenge: 'stepgate.challenge.create.v2',
} as const;

export type Topic = (typeof TOPICS)[keyof typeof TOPICS];
export type RequestPattern = (typeof REQUESTS)[keyof typeof REQUESTS];
