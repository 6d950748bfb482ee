import { epochMs } from '@stepgate/database';
import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

/** The stepped-up token signing key, shared by every instance; the private half is sealed. */
@Entity({ name: 'challenge_signing_keys' })
@Unique('challenge_signing_keys_slot', ['slot'])
export class SigningKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  kid!: string;

  /** 'current' for the key in use, null once retired. Unique, so two instances racing to create one agree. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  slot!: string | null;

  @Column({ name: 'public_jwk', type: 'text' })
  publicJwk!: string;

  @Column({ name: 'private_jwk_ciphertext', type: 'text' })
  privateJwkCiphertext!: string;

  @Column({ name: 'private_key_id', type: 'varchar', length: 64 })
  privateKeyId!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;
}
