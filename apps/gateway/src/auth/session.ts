// Browser sessions, kept entirely in an encrypted cookie (JWE, dir + A256GCM) so any gateway instance can
// serve any request. The cookie holds the user's access token, and after a passed challenge the
// stepped-up token; page scripts never see either (HttpOnly). Idle and absolute timeouts are enforced here.
import { createHmac, hkdfSync, randomUUID, timingSafeEqual } from 'node:crypto';
import { EncryptJWT, jwtDecrypt } from 'jose';
import { cookieValue } from './request-identity';

export const SESSION_COOKIE = '__Host-stepgate-session';
export const LOGIN_COOKIE = '__Host-stepgate-login';
const SESSION_TYP = 'stepgate-session';
const LOGIN_TYP = 'stepgate-login';
/** A session's last-seen time is refreshed (a new cookie) at most this often. */
const TOUCH_INTERVAL_SECONDS = 60;

export interface Session {
  /** Session id: new at sign-in and again on every elevation. */
  sid: string;
  sub: string;
  /** The user's access token from the provider. */
  accessToken: string;
  /** The stepped-up token from the challenge service, once a challenge has passed in this session. */
  stepUpToken: string | null;
  acr: string | null;
  authTime: number | null;
  /** Created (seconds). */
  createdAt: number;
  /** Last activity (seconds), for the idle timeout. */
  seenAt: number;
}

export interface LoginState {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

export interface SessionTimeouts {
  idleTimeoutSeconds: number;
  absoluteTimeoutSeconds: number;
}

export class SessionCodec {
  /** Decrypted cookies by their exact value: decryption is cheap, but not free on every request. */
  private readonly decrypted = new Map<string, Session>();
  /** Keys the CSRF tokens of the gateway's own forms (logout), derived so it never doubles as the JWE key. */
  private readonly formKey: Buffer;

  constructor(
    private readonly key: Uint8Array,
    private readonly timeouts: SessionTimeouts,
  ) {
    this.formKey = Buffer.from(hkdfSync('sha256', key, '', 'stepgate session form token', 32));
  }

  /**
   * A CSRF token for one of the gateway's forms, bound to the session id and the form's purpose: stateless
   * (any instance checks it), useless for another session, and dead with its session.
   */
  formToken(session: Session, purpose: string): string {
    return createHmac('sha256', this.formKey).update(`${purpose}\0${session.sid}`).digest('base64url');
  }

  verifyFormToken(session: Session, purpose: string, token: unknown): boolean {
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
    return timingSafeEqual(
      Buffer.from(this.formToken(session, purpose), 'base64url'),
      Buffer.from(token, 'base64url'),
    );
  }

  newSession(fields: Omit<Session, 'sid' | 'createdAt' | 'seenAt'>, now: number, createdAt = now): Session {
    return { ...fields, sid: randomUUID(), createdAt, seenAt: now };
  }

  async seal(session: Session): Promise<string> {
    return new EncryptJWT({ s: session })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: SESSION_TYP })
      .setIssuedAt(session.seenAt)
      .setExpirationTime(session.createdAt + this.timeouts.absoluteTimeoutSeconds)
      .encrypt(this.key);
  }

  /** The live session in the cookie header, or null (absent, forged, expired, idle too long). */
  async open(cookieHeader: string | undefined, now: number): Promise<Session | null> {
    const raw = cookieValue(cookieHeader, SESSION_COOKIE);
    if (!raw) return null;
    let session = this.decrypted.get(raw);
    if (!session) {
      try {
        const { payload, protectedHeader } = await jwtDecrypt(raw, this.key, {
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
          currentDate: new Date(now * 1000),
        });
        if (protectedHeader.typ !== SESSION_TYP) return null;
        session = payload.s as Session;
      } catch {
        return null;
      }
      if (this.decrypted.size >= 10_000) this.decrypted.clear();
      this.decrypted.set(raw, session);
    }
    if (!this.live(session, now)) {
      this.decrypted.delete(raw);
      return null;
    }
    return session;
  }

  live(session: Session, now: number): boolean {
    return (
      now < session.createdAt + this.timeouts.absoluteTimeoutSeconds &&
      now < session.seenAt + this.timeouts.idleTimeoutSeconds
    );
  }

  /** Whether the session's last-seen time is stale enough to send a refreshed cookie. */
  needsTouch(session: Session, now: number): boolean {
    return now - session.seenAt >= TOUCH_INTERVAL_SECONDS;
  }

  cookie(value: string): string {
    return `${SESSION_COOKIE}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax`;
  }

  clearCookie(name = SESSION_COOKIE): string {
    return `${name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`;
  }

  async sealLogin(state: LoginState, now: number): Promise<string> {
    const value = await new EncryptJWT({ l: state })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: LOGIN_TYP })
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .encrypt(this.key);
    return `${LOGIN_COOKIE}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600`;
  }

  async openLogin(cookieHeader: string | undefined, now: number): Promise<LoginState | null> {
    const raw = cookieValue(cookieHeader, LOGIN_COOKIE);
    if (!raw) return null;
    try {
      const { payload, protectedHeader } = await jwtDecrypt(raw, this.key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        currentDate: new Date(now * 1000),
      });
      return protectedHeader.typ === LOGIN_TYP ? (payload.l as LoginState) : null;
    } catch {
      return null;
    }
  }
}
