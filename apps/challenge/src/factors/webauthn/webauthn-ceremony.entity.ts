import { epochMs } from '@stepgate/database';
import { Column, Entity, PrimaryColumn } from 'typeorm';

export type CeremonyPurpose = 'registration' | 'authentication';
export type UserVerification = 'required' | 'preferred';

/**
 * One WebAuthn challenge handed to a browser, kept server-side so it is bound to who asked for it (subject,
 * device, session, and for authentication the step-up challenge) and can be consumed exactly once.
 */
@Entity({ name: 'challenge_webauthn_ceremonies' })
export class WebauthnCeremonyEntity {
  /** The base64url challenge the authenticator signs. */
  @PrimaryColumn({ type: 'varchar', length: 128 })
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  purpose!: CeremonyPurpose;

  @Column({ type: 'varchar', length: 256 })
  subject!: string;

  @Column({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId!: string;

  @Column({ name: 'session_id', type: 'varchar', length: 128, nullable: true })
  sessionId!: string | null;

  /** The step-up challenge an authentication ceremony belongs to. */
  @Column({ name: 'challenge_id', type: 'varchar', length: 64, nullable: true })
  challengeId!: string | null;

  @Column({ name: 'user_verification', type: 'varchar', length: 16 })
  userVerification!: UserVerification;

  /** For registration: how adding the passkey was authorised when the options were issued. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  authorisation!: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt!: number;

  @Column({ name: 'used_at', type: 'bigint', nullable: true, transformer: epochMs })
  usedAt!: number | null;
}
