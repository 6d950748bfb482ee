// The typed topic-to-payload map: producing or consuming the wrong shape does not compile.
import type { z } from 'zod';
import { REQUESTS, TOPICS } from './topics';
import { accessEvent, accessEventKey } from './access/access.event';
import { riskAssessment, riskAssessmentKey } from './risk-assessment/risk-assessment.event';
import { decisionChange, decisionChangeKey } from './decision-change/decision-change.event';
import { challengeOutcome, challengeOutcomeKey } from './challenge-outcome/challenge-outcome.event';
import { factorChanged, factorChangedKey } from './factor-changed/factor-changed.event';
import { deadLetter, deadLetterKey } from './dead-letter/dead-letter.event';
import { policyVersion, policyVersionKey } from './policy-version/policy-version.event';
import { sessionRevoked, sessionRevokedKey } from './session-revoked/session-revoked.event';
import { assessRiskReply, assessRiskRequest } from './assess-risk/assess-risk.request';
import { createChallengeReply, createChallengeRequest } from './create-challenge/create-challenge.request';

export const EVENT_CONTRACTS = {
  [TOPICS.access]: { schema: accessEvent, key: accessEventKey },
  [TOPICS.riskAssessment]: { schema: riskAssessment, key: riskAssessmentKey },
  [TOPICS.decisionChange]: { schema: decisionChange, key: decisionChangeKey },
  [TOPICS.challengeOutcome]: { schema: challengeOutcome, key: challengeOutcomeKey },
  [TOPICS.factorChanged]: { schema: factorChanged, key: factorChangedKey },
  [TOPICS.deadLetter]: { schema: deadLetter, key: deadLetterKey },
  [TOPICS.policyVersion]: { schema: policyVersion, key: policyVersionKey },
  [TOPICS.sessionRevoked]: { schema: sessionRevoked, key: sessionRevokedKey },
} as const;

export const REQUEST_CONTRACTS = {
  [REQUESTS.assessRisk]: { request: assessRiskRequest, reply: assessRiskReply },
  [REQUESTS.createChallenge]: { request: createChallengeRequest, reply: createChallengeReply },
} as const;

type EventContracts = typeof EVENT_CONTRACTS;
type RequestContracts = typeof REQUEST_CONTRACTS;
export type EventTopic = keyof EventContracts;
export type EventOf<T extends EventTopic> = z.infer<EventContracts[T]['schema']>;
export type RequestOf<P extends keyof RequestContracts> = z.infer<RequestContracts[P]['request']>;
export type ReplyOf<P extends keyof RequestContracts> = z.infer<RequestContracts[P]['reply']>;

/** Schema for whatever arrives on a topic or request pattern. */
export function schemaFor(pattern: string): z.ZodType | undefined {
  if (pattern in EVENT_CONTRACTS) return EVENT_CONTRACTS[pattern as EventTopic].schema;
  if (pattern in REQUEST_CONTRACTS) return REQUEST_CONTRACTS[pattern as keyof RequestContracts].request;
  return undefined;
}

/** A readable, complete list of what is wrong with a value: `path: message; ...`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}
