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

export const deviceStatus = z.enum(['unknown', 'seen', 'confirmed']);
export type DeviceStatus = z.infer<typeof deviceStatus>;
