// What a request authenticates with: a bearer token, or a DPoP-bound token with a proof of its key
// (RFC 9449). The proof is checked here (signature, htm, htu, iat, ath, single-use jti, nonce); whether the
// token is bound to that key is checked once the token is verified (`checkBinding`).
import type { IncomingMessage } from 'node:http';
import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  authorizationOf,
  DpopError,
  ReplayStoreUnavailableError,
  verifyDpopProof,
  wwwAuthenticate,
  type DpopNonceChecker,
  type DpopReplayStore,
  type VerifiedToken,
} from '@stepgate/identity';
import type { GatewayConfig } from '../config';

export type Credential =
  | { scheme: 'none' }
  | { scheme: 'bearer'; token: string }
  /** `jkt`: the RFC 7638 thumbprint of the key the proof was signed with. */
  | { scheme: 'dpop'; token: string; jkt: string };

/** Why a request's credentials were refused, and how to say so (RFC 6750 / RFC 9449 section 7.1). */
export class CredentialError extends Error {
  constructor(
    readonly scheme: 'Bearer' | 'DPoP',
    readonly code: 'invalid_request' | 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce',
    message: string,
    /** 503: the replay store could not answer, so the proof's freshness is unknown (fail closed). */
    readonly status: 401 | 503 = 401,
  ) {
    super(message);
  }
}

/** A replay store, with the lifecycle of the PostgreSQL one (the memory one has none). */
export type ReplayStore = DpopReplayStore & { ready?(): Promise<void>; close?(): Promise<void> };

export interface DpopSettings {
  algorithms: readonly string[];
  maxAgeSeconds: number;
  clockSkewSeconds: number;
  replay: ReplayStore;
  nonces: (DpopNonceChecker & { issue(): string }) | null;
}

export class Credentials implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('DPoP');

  constructor(private readonly dpop: DpopSettings) {}

  /** A replay store that cannot answer only refuses DPoP requests (503): the gateway starts and says so. */
  async onModuleInit(): Promise<void> {
    await this.dpop.replay.ready?.().catch((err: unknown) => {
      this.logger.warn(
        `DPoP replay store not reachable yet; DPoP requests get 503 until it is: ${String(err)}`,
      );
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dpop.replay.close?.();
  }

  static settingsOf(
    config: GatewayConfig,
    replay: ReplayStore,
    nonces: DpopSettings['nonces'],
  ): DpopSettings {
    const d = config.gateway.dpop;
    return {
      algorithms: d.algorithms,
      maxAgeSeconds: d.proofMaxAgeSeconds,
      clockSkewSeconds: config.gateway.clockSkewSeconds,
      replay,
      nonces: d.nonce ? nonces : null,
    };
  }

  /** The algorithms a DPoP challenge advertises (`algs`). */
  get algorithms(): readonly string[] {
    return this.dpop.algorithms;
  }

  /** A fresh server nonce for a `DPoP-Nonce` header, when nonces are required. */
  nonce(): string | null {
    return this.dpop.nonces?.issue() ?? null;
  }

  /**
   * The request's credentials. `url` is the request as the client addressed it (the gateway's public origin
   * and the path as received): the proof's `htu`. Throws CredentialError.
   */
  async of(raw: IncomingMessage, url: string, nowSeconds: number): Promise<Credential> {
    let auth: ReturnType<typeof authorizationOf>;
    try {
      // Every value the request carried: a repeated Authorization header is refused, not the first taken.
      auth = authorizationOf(raw.headersDistinct.authorization);
    } catch (err) {
      const message = err instanceof DpopError ? err.message : 'malformed Authorization header';
      throw new CredentialError(dpopIntended(raw) ? 'DPoP' : 'Bearer', 'invalid_request', message);
    }
    if (!auth) return { scheme: 'none' };
    if (auth.scheme === 'bearer') return { scheme: 'bearer', token: auth.token };
    try {
      const proof = await verifyDpopProof(raw.headersDistinct.dpop, {
        method: String(raw.method),
        url,
        accessToken: auth.token,
        algorithms: this.dpop.algorithms,
        maxAgeSeconds: this.dpop.maxAgeSeconds,
        clockSkewSeconds: this.dpop.clockSkewSeconds,
        nonce: this.dpop.nonces ?? undefined,
        replay: this.dpop.replay,
        now: nowSeconds,
      });
      return { scheme: 'dpop', token: auth.token, jkt: proof.jkt };
    } catch (err) {
      if (err instanceof ReplayStoreUnavailableError) {
        const cause = err.cause instanceof Error ? err.cause.message : err.message;
        this.logger.error(`DPoP replay store unavailable: ${cause}`);
        throw new CredentialError('DPoP', 'invalid_dpop_proof', 'DPoP proofs cannot be checked now', 503);
      }
      if (err instanceof DpopError) throw new CredentialError('DPoP', err.code, err.message);
      throw new CredentialError('DPoP', 'invalid_dpop_proof', 'DPoP proof could not be verified');
    }
  }

  /**
   * A token bound to a key (`cnf.jkt`) is good only with a proof from that key, and a DPoP request only
   * with a token bound to the proof's key. Throws CredentialError.
   */
  static checkBinding(credential: Credential, token: VerifiedToken): void {
    if (credential.scheme === 'dpop') {
      if (token.jkt === null)
        throw new CredentialError('DPoP', 'invalid_token', 'the token is not bound to a DPoP key');
      if (token.jkt !== credential.jkt)
        throw new CredentialError(
          'DPoP',
          'invalid_dpop_proof',
          'the proof is not signed by the key the token is bound to',
        );
    } else if (token.jkt !== null) {
      throw new CredentialError(
        'DPoP',
        'invalid_token',
        'the token is bound to a DPoP key: send it as Authorization: DPoP with a proof',
      );
    }
  }
}

/** The `WWW-Authenticate` value for refused credentials. */
export function challengeFor(err: CredentialError, algs: readonly string[]): string {
  return wwwAuthenticate({
    scheme: err.scheme,
    realm: 'stepgate',
    error: err.code,
    errorDescription: err.message,
    algs: err.scheme === 'DPoP' ? algs : undefined,
  });
}

/** The client meant DPoP: its Authorization names the scheme, or it sent a proof. */
function dpopIntended(raw: IncomingMessage): boolean {
  const auth = raw.headers.authorization;
  return raw.headers.dpop !== undefined || (typeof auth === 'string' && /^\s*dpop\b/i.test(auth));
}
