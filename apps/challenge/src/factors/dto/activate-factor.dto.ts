import { z } from 'zod';

export const activateFactorBody = z.strictObject({
  code: z.string().regex(/^[0-9]{6,8}$/, 'must be the 6-8 digit code from the authenticator'),
  /** The CSRF token as a form field, when a page posts this without script. */
  _csrf: z.string().max(256).optional(),
});
export type ActivateFactorBody = z.infer<typeof activateFactorBody>;

export interface EnrolTotpResponse {
  id: string;
  secret: string;
  otpauth_uri: string;
}

export interface ActivateFactorResponse {
  id: string;
  status: 'active';
}
