import { z } from 'zod';

/** One shape per method; webauthn and recovery codes join this union later. */
export const verifyChallengeBody = z.discriminatedUnion('method', [
  z.strictObject({ method: z.literal('totp'), code: z.string().regex(/^[0-9]{1,10}$/, 'must be digits') }),
]);
export type VerifyChallengeBody = z.infer<typeof verifyChallengeBody>;

export interface VerifyChallengeResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  acr: string;
}
