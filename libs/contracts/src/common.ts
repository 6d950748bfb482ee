import { z } from 'zod';

export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export const riskLevel = z.enum(RISK_LEVELS);
export type RiskLevel = z.infer<typeof riskLevel>;

/**
 * Whether a store can hold the string as it is: PostgreSQL refuses NUL in text (the whole transaction fails),
 * and a lone UTF-16 surrogate has no UTF-8 form (the driver would store U+FFFD in its place, so an id would
 * no longer match itself).
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed();
}

/**
 * Every string a message carries: one a service might store, so one a store can hold. A message with any other
 * is refused at the door (dead-lettered with this reason) instead of failing in its handler. Lengths are the
 * callers' and never exceed the columns they are stored in (the TypeORM entities of risk and challenge).
 */
export const text = () =>
  z.string().refine(isStorableText, { message: 'must not contain NUL or unpaired UTF-16 surrogates' });

export const isoTime = z.iso.datetime({ offset: true });
export const id = text().min(1).max(128);
export const subject = text().min(1).max(256);
export const deviceId = text().min(1).max(128);
export const ip = z.union([z.ipv4(), z.ipv6()]);

/** One signal that contributed to a score, and why. */
export const riskSignal = z.strictObject({
  name: text().min(1).max(64),
  weight: z.number().min(-100).max(100),
  detail: text().max(500),
});
export type RiskSignal = z.infer<typeof riskSignal>;

/**
 * Where the gateway got the device id: a DPoP key's thumbprint (proven by a signature on every request, so it
 * cannot be copied; the id is `dpop:<jkt>`), the client's X-Device-Id header, or the browser's device cookie
 * (both replayable by whoever copies them). Null with a null device id.
 */
export const DEVICE_SOURCES = ['dpop', 'header', 'cookie'] as const;
export const deviceSource = z.enum(DEVICE_SOURCES);
export type DeviceSource = z.infer<typeof deviceSource>;

export const deviceStatus = z.enum(['unknown', 'seen', 'confirmed']);
export type DeviceStatus = z.infer<typeof deviceStatus>;
