import { z } from 'zod';
import { authenticationResponse } from '../../factors/dto/webauthn.dto';

// Pages post these too: `return_to` is echoed back (if it is a same-origin path) so the page knows where to
// go, and `_csrf` is the form field of the CSRF token (checked by the CsrfGuard before this is parsed).
const common = {
  return_to: z.string().max(2048).optional(),
  _csrf: z.string().max(256).optional(),
};

/** One shape per method. */
export const verifyChallengeBody = z.discriminatedUnion('method', [
  z.strictObject({
    method: z.literal('totp'),
    code: z.string().regex(/^[0-9]{1,10}$/, 'must be digits'),
    ...common,
  }),
  z.strictObject({
    method: z.literal('recovery_code'),
    code: z.string().min(1).max(64),
    ...common,
  }),
  z.strictObject({ method: z.literal('webauthn'), response: authenticationResponse, ...common }),
]);
export type VerifyChallengeBody = z.infer<typeof verifyChallengeBody>;

export interface VerifyChallengeResponse {
  access_token: string;
  /** `DPoP` for a token bound to the client's DPoP key (RFC 9449 5): send it as `Authorization: DPoP`. */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  acr: string;
  return_to?: string;
}
