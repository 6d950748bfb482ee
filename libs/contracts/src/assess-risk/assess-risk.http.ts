// The same request, answered directly over HTTP (adr/0016-direct-risk-path): the gateway POSTs an
// AssessRiskRequest to risk's private port and gets the RiskAssessment back, the Kafka request/reply's
// contract without its consumer group.

/** Where risk answers; the body is `assessRiskRequest`, the answer `assessRiskReply`. */
export const ASSESS_RISK_HTTP_PATH = '/internal/v1/assessments';

/** The `aud` of the service token a caller presents there (libs/identity `service-token.ts`). */
export const RISK_SERVICE_AUDIENCE = 'urn:stepgate:risk';
