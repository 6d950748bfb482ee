// A software WebAuthn authenticator (ES256, attestation "none") for specs that talk to the challenge service
// without a browser: it signs what a real one signs, and can be told to misbehave (no user verification, a
// counter that goes backwards, another origin).
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

export interface SoftAuthenticatorOptions {
  rpId: string;
  origin: string;
}

export interface CredentialJSON {
  id: string;
  rawId: string;
  type: 'public-key';
  response: Record<string, string | string[] | undefined>;
  clientExtensionResults: Record<string, unknown>;
}

const UP = 0x01;
const UV = 0x04;
const AT = 0x40;

export class SoftAuthenticator {
  readonly credentialId = randomBytes(32);
  private readonly privateKey: KeyObject;
  private readonly publicJwk: { x: string; y: string };
  counter = 0;
  userHandle: string | undefined;

  constructor(private readonly options: SoftAuthenticatorOptions) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = privateKey;
    this.publicJwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  }

  get id(): string {
    return this.credentialId.toString('base64url');
  }

  /** The answer to navigator.credentials.create() for these (JSON) options. */
  create(options: { challenge: string; user: { id: string } }, o: { origin?: string } = {}): CredentialJSON {
    this.userHandle = options.user.id;
    const cose = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(this.publicJwk.x, 'base64url')],
      [-3, Buffer.from(this.publicJwk.y, 'base64url')],
    ]);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const authData = Buffer.concat([
      this.authData(UP | UV | AT, this.counter),
      Buffer.alloc(16), // AAGUID: none
      idLength,
      this.credentialId,
      Buffer.from(isoCBOR.encode(cose)),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]) as never,
    );
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: this.clientData('webauthn.create', options.challenge, o.origin),
        attestationObject: Buffer.from(attestationObject).toString('base64url'),
        transports: ['internal'],
      },
      clientExtensionResults: {},
    };
  }

  /** The answer to navigator.credentials.get(); by default with user verification and a counter step of 1. */
  get(
    options: { challenge: string },
    o: { userVerified?: boolean; counter?: number; origin?: string; credentialId?: string } = {},
  ): CredentialJSON {
    this.counter = o.counter ?? this.counter + 1;
    const authData = this.authData(o.userVerified === false ? UP : UP | UV, this.counter);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, o.origin);
    const signature = sign(
      'sha256',
      Buffer.concat([
        authData,
        createHash('sha256').update(Buffer.from(clientDataJSON, 'base64url')).digest(),
      ]),
      this.privateKey,
    );
    const id = o.credentialId ?? this.id;
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON,
        authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'),
        userHandle: this.userHandle,
      },
      clientExtensionResults: {},
    };
  }

  private authData(flags: number, counter: number): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([createHash('sha256').update(this.options.rpId).digest(), Buffer.of(flags), count]);
  }

  private clientData(type: string, challenge: string, origin = this.options.origin): string {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false })).toString('base64url');
  }
}
