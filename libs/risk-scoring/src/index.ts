// Public surface of risk scoring: what an access is scored on, the rule signals and the likelihood model,
// and the weighing a backtest re-runs. Pure: no Nest, no I/O (the service reads profiles, the geo data
// and the policy, and hands them in), so the service, the control plane's backtest and the evaluation
// harness score with one piece of code.
export * from './geo';
export {
  coldStartWeight,
  globalProbability,
  likelihoodObservations,
  likelihoodSignals,
  subjectProbability,
  weighFeatures,
  featureEvidence,
  type FeatureEvidence,
} from './likelihood';
export * from './observation';
export { deviceStatusOf, MODEL_NAME, observeRules, RiskModel } from './risk.model';
export * from './rng';
export * from './scoring.types';
export * from './signals';
export * from './user-agent';
export * from './weighing';
