// Public surface of the contracts library: topics, schemas and their types. No Nest imports here.
export * from './topics';
export * from './common';
export * from './contract-map';
export * from './access/access.event';
export * from './risk-assessment/risk-assessment.event';
export * from './decision-change/decision-change.event';
export * from './challenge-outcome/challenge-outcome.event';
export * from './factor-changed/factor-changed.event';
export * from './dead-letter/dead-letter.event';
export * from './policy-version/policy-version.event';
export * from './session-revoked/session-revoked.event';
export * from './assess-risk/assess-risk.request';
export * from './assess-risk/assess-risk.http';
export * from './create-challenge/create-challenge.request';
export * from './risk-assessment/client-reasons';
