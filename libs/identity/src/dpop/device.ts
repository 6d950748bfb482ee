// A DPoP client's device is its key. The id is `dpop:<RFC 7638 SHA-256 thumbprint>`: the colon is outside
// what an X-Device-Id header or a device cookie may hold, so no client can name a key-bound device without
// the gateway having verified a proof of that key.

/** An RFC 7638 SHA-256 thumbprint: 32 bytes, base64url without padding. */
export const JKT_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export const DPOP_DEVICE_PREFIX = 'dpop:';

export function isJkt(value: unknown): value is string {
  return typeof value === 'string' && JKT_PATTERN.test(value);
}

/** The device id of a DPoP key. */
export function dpopDeviceId(jkt: string): string {
  return `${DPOP_DEVICE_PREFIX}${jkt}`;
}

export function isDpopDeviceId(deviceId: string | null): boolean {
  return deviceId?.startsWith(DPOP_DEVICE_PREFIX) === true;
}
