import { epochMs } from '@stepgate/database';
import { Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

/** A passkey of one subject: the public key, the signature counter, and how it was enrolled. */
@Entity({ name: 'challenge_webauthn_credentials' })
@Index('challenge_webauthn_credentials_subject', ['subject'])
@Unique('challenge_webauthn_credentials_credential', ['credentialId'])
export class WebauthnCredentialEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 256 })
  subject!: string;

  /** base64url credential id from the authenticator; unique across all subjects. */
  @Column({ name: 'credential_id', type: 'varchar', length: 1400 })
  credentialId!: string;

  /** base64url COSE public key. Public: nothing to seal. */
  @Column({ name: 'public_key', type: 'text' })
  publicKey!: string;

  /** Highest signature counter seen; 0 for authenticators that do not count (most passkeys). */
  @Column({ type: 'bigint', transformer: epochMs, default: 0 })
  counter!: number;

  @Column({ type: 'simple-json' })
  transports!: string[];

  /** The WebAuthn user.id this credential was created for (base64url). */
  @Column({ name: 'user_handle', type: 'varchar', length: 128 })
  userHandle!: string;

  /** singleDevice or multiDevice (synced). */
  @Column({ name: 'device_type', type: 'varchar', length: 32 })
  deviceType!: string;

  @Column({ type: 'varchar', length: 64 })
  label!: string;

  @Column({ name: 'enrolled_device_id', type: 'varchar', length: 128 })
  enrolledDeviceId!: string;

  @Column({ name: 'enrolment_authorisation', type: 'varchar', length: 64 })
  enrolmentAuthorisation!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'last_used_at', type: 'bigint', nullable: true, transformer: epochMs })
  lastUsedAt!: number | null;
}
