import { z } from 'zod';

export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export const riskLevel = z.enum(RISK_LEVELS);
export type RiskLevel = z.infer<typeof riskLevel>;

export const isoTime = z.iso.datetime({ offset: true });
export const id = z.string().min(1).max(128);
export const subject = z.string().min(1).max(256);
export const deviceId = z.string().min(1).max(128);
export const ip = z.union([z.ipv4(), z.ipv6()]);

/** One signal that contributed to a score, and why. */
export const riskSignal = z.strictObject({
  name: z.string().min(1).max(64),
  weight: z.number().min(-100).max(100),
  detail: z.string().max(500),
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
