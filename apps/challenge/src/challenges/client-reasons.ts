// Why a person is asked to step up, on the challenge page: the plain reasons the gateway gives API clients
// too (clientReasons, @stepgate/contracts), never the signals' details, which explain a score with the
// account's profile (its usual networks, places, browsers, counts). Pure.
import { clientReasons, type RiskSignal } from '@stepgate/contracts';

export interface ClientExplanation {
  /** One short line, without a final stop. */
  summary: string;
  /** One sentence per reason, strongest first. */
  reasons: string[];
}

/** What a page says under "Why am I asked?". */
export function explainToClient(signals: readonly Pick<RiskSignal, 'name' | 'weight'>[]): ClientExplanation {
  const reasons = clientReasons(signals).map((r) => `${r.charAt(0).toUpperCase()}${r.slice(1)}.`);
  return {
    summary:
      reasons.length > 0
        ? 'This request is not like the ones we know from your account'
        : 'This action always needs a recent confirmation',
    reasons,
  };
}
