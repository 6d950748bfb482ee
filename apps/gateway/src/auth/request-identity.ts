// Who is calling and from which device. Pure helpers over headers.
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { DeviceSource } from '@stepgate/contracts';

export const DEVICE_HEADER = 'x-device-id';
export const DEVICE_COOKIE = '__Host-stepgate-device';
const DEVICE_ID = /^[A-Za-z0-9._-]{1,128}$/;

export class InvalidDeviceId extends Error {
  readonly code = 'invalid_device_id';
}

export interface DeviceIdentity {
  deviceId: string | null;
  source: DeviceSource | null;
  /** A new browser device id the response must set as a cookie. */
  issueCookie: string | null;
}

/** API clients name their device with X-Device-Id; browsers carry a device cookie (issued when absent). */
export function deviceOf(headers: IncomingHttpHeaders, isBrowser: boolean): DeviceIdentity {
  const header = headers[DEVICE_HEADER];
  if (header !== undefined) {
    if (typeof header !== 'string' || !DEVICE_ID.test(header))
      throw new InvalidDeviceId('X-Device-Id must be 1-128 characters of [A-Za-z0-9._-]');
    return { deviceId: header, source: 'header', issueCookie: null };
  }
  const fromCookie = cookieValue(headers.cookie, DEVICE_COOKIE);
  if (fromCookie && DEVICE_ID.test(fromCookie))
    return { deviceId: fromCookie, source: 'cookie', issueCookie: null };
  if (!isBrowser) return { deviceId: null, source: null, issueCookie: null };
  const issued = `b-${randomBytes(16).toString('base64url')}`;
  return { deviceId: issued, source: 'cookie', issueCookie: issued };
}

export function deviceCookie(id: string): string {
  return `${DEVICE_COOKIE}=${id}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=31536000`;
}

export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** A browser navigation wants a page, not a JSON error. */
export function wantsHtml(headers: IncomingHttpHeaders): boolean {
  const accept = headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}
