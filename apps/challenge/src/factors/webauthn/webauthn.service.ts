// Passkeys (WebAuthn) with @simplewebauthn/server: registration and authentication ceremonies whose challenges
// are kept server-side, bound to subject, device, session (and step-up challenge) and consumed exactly once;
// credentials checked to belong to the subject; signature counters that only move forward.
import { createHmac } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { LessThan, type DataSource, type Repository } from 'typeorm';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../../config';
import { CHALLENGE_DB, updateReturning } from '../../database/challenge-database';
import { newId } from '../../ids';
import { SecretBox } from '../crypto/secret-box';
import type { AuthenticationResponse, RegistrationResponse } from '../dto/webauthn.dto';
import { signedChallengeOf } from '../dto/webauthn.dto';
import {
  CredentialAlreadyRegistered,
  FactorNotFound,
  InvalidWebauthnResponse,
  TooManyFactors,
} from '../factor.errors';
import type { FactorVerifier } from '../factor.verifier';
import {
  WebauthnCeremonyEntity,
  type CeremonyPurpose,
  type UserVerification,
} from './webauthn-ceremony.entity';
import { WebauthnCredentialEntity } from './webauthn-credential.entity';

export const MAX_PASSKEYS = 10;

/** Who is performing a ceremony. */
export interface CeremonyParty {
  subject: string;
  deviceId: string;
  sessionId: string | null;
}

export interface PasskeyAssertion {
  credential: WebauthnCredentialEntity;
  userVerified: boolean;
}

@Injectable()
export class WebauthnService implements FactorVerifier {
  readonly method = 'webauthn' as const;
  private readonly settings: ChallengeConfig['challenge']['webauthn'];
  private readonly userHandleKey: Buffer;

  constructor(
    @InjectRepository(WebauthnCredentialEntity, CHALLENGE_DB)
    private readonly credentials: Repository<WebauthnCredentialEntity>,
    @InjectRepository(WebauthnCeremonyEntity, CHALLENGE_DB)
    private readonly ceremonies: Repository<WebauthnCeremonyEntity>,
    @InjectDataSource(CHALLENGE_DB) private readonly db: DataSource,
    box: SecretBox,
    @Inject(CHALLENGE_CONFIG) config: ChallengeConfig,
  ) {
    this.settings = config.challenge.webauthn;
    this.userHandleKey = box.derive('webauthn-user-handle').current.key;
  }

  async hasActive(subject: string): Promise<boolean> {
    return (await this.credentials.countBy({ subject })) > 0;
  }

  list(subject: string): Promise<WebauthnCredentialEntity[]> {
    return this.credentials.find({ where: { subject }, order: { createdAt: 'ASC' }, take: MAX_PASSKEYS });
  }

  async registrationOptions(
    party: CeremonyParty,
    authorisation: string,
    nowMs: number,
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.list(party.subject);
    if (existing.length >= MAX_PASSKEYS) throw new TooManyFactors(MAX_PASSKEYS);
    const userHandle = existing[0]?.userHandle ?? this.userHandleOf(party.subject);
    const options = await generateRegistrationOptions({
      rpName: this.settings.rpName,
      rpID: this.settings.rpId,
      userName: party.subject,
      userDisplayName: party.subject,
      userID: Buffer.from(userHandle, 'base64url'),
      timeout: this.settings.timeoutSeconds * 1000,
      attestationType: 'none',
      // The same authenticator twice would be one factor counted as two.
      excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
    await this.saveCeremony(
      options.challenge,
      'registration',
      party,
      null,
      'preferred',
      authorisation,
      nowMs,
    );
    return options;
  }

  /** Verifies a registration against the ceremony it answers and stores the passkey. */
  async register(
    party: CeremonyParty,
    response: RegistrationResponse,
    label: string | undefined,
    nowMs: number,
    /** Decides, once the response verified and before anything is stored, how the addition is authorised. */
    authorise: (enrolledAs: string) => Promise<string>,
  ): Promise<{ credential: WebauthnCredentialEntity; authorisation: string }> {
    const ceremony = await this.consume(response.response.clientDataJSON, 'registration', party, null, nowMs);
    if (!ceremony) {
      throw new InvalidWebauthnResponse('unknown, expired or already used registration; start again');
    }
    let verification;
    try {
      verification = await verifyRegistrationResponse({
        response: response,
        expectedChallenge: ceremony.id,
        expectedOrigin: this.settings.origins,
        expectedRPID: this.settings.rpId,
        requireUserVerification: false,
      });
    } catch (err) {
      throw new InvalidWebauthnResponse((err as Error).message);
    }
    if (!verification.verified) throw new InvalidWebauthnResponse('the attestation did not verify');
    const { credential, credentialDeviceType } = verification.registrationInfo;
    const authorisation = await authorise(ceremony.authorisation ?? 'unknown');
    const row = this.credentials.create({
      id: newId(),
      subject: party.subject,
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: (credential.transports ?? []).slice(0, 8),
      userHandle: (await this.list(party.subject))[0]?.userHandle ?? this.userHandleOf(party.subject),
      deviceType: credentialDeviceType,
      label: label ?? `Passkey added ${new Date(nowMs).toISOString().slice(0, 10)}`,
      enrolledDeviceId: party.deviceId,
      enrolmentAuthorisation: authorisation,
      createdAt: nowMs,
      lastUsedAt: null,
    });
    if ((await this.credentials.countBy({ credentialId: credential.id })) > 0) {
      throw new CredentialAlreadyRegistered();
    }
    try {
      await this.credentials.insert(row);
    } catch (err) {
      // The unique credential id: registered concurrently, or by another account.
      if ((await this.credentials.countBy({ credentialId: credential.id })) > 0) {
        throw new CredentialAlreadyRegistered();
      }
      throw err;
    }
    return { credential: row, authorisation };
  }

  async authenticationOptions(
    party: CeremonyParty,
    challengeId: string,
    userVerification: UserVerification,
    nowMs: number,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const credentials = await this.list(party.subject);
    if (credentials.length === 0) throw new FactorNotFound();
    const options = await generateAuthenticationOptions({
      rpID: this.settings.rpId,
      allowCredentials: credentials.map((c) => ({ id: c.credentialId, transports: c.transports })),
      userVerification,
      timeout: this.settings.timeoutSeconds * 1000,
    });
    await this.saveCeremony(
      options.challenge,
      'authentication',
      party,
      challengeId,
      userVerification,
      null,
      nowMs,
    );
    return options;
  }

  /**
   * Checks an assertion for a step-up challenge: its ceremony (consumed here), a credential of this subject,
   * the signature, user verification when the ceremony required it, and a counter that moved forward.
   * Null when any of it fails.
   */
  async verify(
    party: CeremonyParty,
    challengeId: string,
    response: AuthenticationResponse,
    nowMs: number,
  ): Promise<PasskeyAssertion | null> {
    const ceremony = await this.consume(
      response.response.clientDataJSON,
      'authentication',
      party,
      challengeId,
      nowMs,
    );
    if (!ceremony) return null;
    // Another subject's credential is as unknown as one that does not exist.
    const credential = await this.credentials.findOneBy({
      credentialId: response.id,
      subject: party.subject,
    });
    if (!credential) return null;
    if (response.response.userHandle && response.response.userHandle !== credential.userHandle) return null;
    let result;
    try {
      result = await verifyAuthenticationResponse({
        response: response,
        expectedChallenge: ceremony.id,
        expectedOrigin: this.settings.origins,
        expectedRPID: this.settings.rpId,
        credential: {
          id: credential.credentialId,
          publicKey: Buffer.from(credential.publicKey, 'base64url'),
          counter: credential.counter,
          transports: credential.transports,
        },
        requireUserVerification: ceremony.userVerification === 'required',
      });
    } catch {
      return null;
    }
    if (!result.verified) return null;
    const { newCounter, userVerified } = result.authenticationInfo;
    if (ceremony.userVerification === 'required' && !userVerified) return null;
    return (await this.advanceCounter(credential, newCounter, nowMs))
      ? { credential: { ...credential, counter: newCounter, lastUsedAt: nowMs }, userVerified }
      : null;
  }

  /** Removes a passkey of the subject; another subject's is reported as missing. */
  async remove(subject: string, id: string): Promise<WebauthnCredentialEntity> {
    const credential = await this.credentials.findOneBy({ id, subject });
    if (!credential) throw new FactorNotFound();
    await this.credentials.delete({ id, subject });
    return credential;
  }

  /**
   * Compare-and-set: the counter must grow, unless the authenticator does not count at all (0 before and
   * after, as synced passkeys do). A cloned authenticator shows up as a counter that did not grow.
   */
  private async advanceCounter(
    credential: WebauthnCredentialEntity,
    next: number,
    nowMs: number,
  ): Promise<boolean> {
    const old = credential.counter;
    if (!(next > old || (next === 0 && old === 0))) return false;
    const result = await this.credentials
      .createQueryBuilder()
      .update(WebauthnCredentialEntity)
      .set({ counter: next, lastUsedAt: nowMs })
      .where('id = :id AND counter = :old', { id: credential.id, old })
      .execute();
    return result.affected === 1;
  }

  private async saveCeremony(
    challenge: string,
    purpose: CeremonyPurpose,
    party: CeremonyParty,
    challengeId: string | null,
    userVerification: UserVerification,
    authorisation: string | null,
    nowMs: number,
  ): Promise<void> {
    await this.ceremonies.delete({ expiresAt: LessThan(nowMs) });
    await this.ceremonies.insert({
      id: challenge,
      purpose,
      subject: party.subject,
      deviceId: party.deviceId,
      sessionId: party.sessionId,
      challengeId,
      userVerification,
      authorisation,
      createdAt: nowMs,
      expiresAt: nowMs + this.settings.timeoutSeconds * 1000,
      usedAt: null,
    });
  }

  /** Marks the ceremony a response answers as used, if it is this party's, unexpired and unused. */
  private async consume(
    clientDataJSON: string,
    purpose: CeremonyPurpose,
    party: CeremonyParty,
    challengeId: string | null,
    nowMs: number,
  ): Promise<WebauthnCeremonyEntity | null> {
    const id = signedChallengeOf(clientDataJSON);
    if (!id) return null;
    const conditions = [
      'id = :id',
      'purpose = :purpose',
      'used_at IS NULL',
      'expires_at > :now',
      'subject = :subject',
      'device_id = :deviceId',
      challengeId === null ? 'challenge_id IS NULL' : 'challenge_id = :challengeId',
      // A ceremony begun in one session cannot be finished in another (either side unknown: device decides).
      party.sessionId === null ? '1 = 1' : '(session_id IS NULL OR session_id = :sessionId)',
    ];
    const rows = await updateReturning<{
      id: string;
      user_verification: string;
      authorisation: string | null;
    }>(
      this.db,
      `UPDATE challenge_webauthn_ceremonies SET used_at = :now WHERE ${conditions.join(' AND ')}
       RETURNING id, user_verification, authorisation`,
      { id, purpose, now: nowMs, ...party, challengeId },
    );
    const row = rows[0];
    if (!row) return null;
    return this.ceremonies.create({
      id: row.id,
      userVerification: row.user_verification as UserVerification,
      authorisation: row.authorisation,
    });
  }

  /** A stable, opaque WebAuthn user.id per subject: it must carry no personal data (WebAuthn L3, 5.4.3). */
  private userHandleOf(subject: string): string {
    return createHmac('sha256', this.userHandleKey)
      .update(subject)
      .digest()
      .subarray(0, 32)
      .toString('base64url');
  }
}
