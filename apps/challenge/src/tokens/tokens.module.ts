// Stepped-up tokens: the signing key, issuing, the JWKS, and the verifier every bearer route uses
// (it trusts the OIDC issuers for access tokens and this service's own key for stepped-up ones).
import { Logger, Module } from '@nestjs/common';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import { TokenVerifier } from '@stepgate/identity';
import type { Repository } from 'typeorm';
import { CHALLENGE_SETTINGS, type ChallengeSettings } from '../config';
import { CHALLENGE_DB } from '../database/challenge-database';
import { SecretBox } from '../factors/crypto/secret-box';
import { JwksHttpController } from './jwks.http.controller';
import { SigningKeyRow } from './signing-key.entity';
import { loadSigningKeys, SigningKeys } from './signing-keys';
import { TokenIssuer } from './token.issuer';

@Module({
  imports: [TypeOrmModule.forFeature([SigningKeyRow], CHALLENGE_DB)],
  controllers: [JwksHttpController],
  providers: [
    {
      provide: SigningKeys,
      inject: [CHALLENGE_SETTINGS, getRepositoryToken(SigningKeyRow, CHALLENGE_DB), SecretBox],
      useFactory: (settings: ChallengeSettings, rows: Repository<SigningKeyRow>, box: SecretBox) =>
        loadSigningKeys(settings.secrets.signingJwk, rows, box, new Logger('SigningKeys')),
    },
    {
      provide: TokenVerifier,
      inject: [CHALLENGE_SETTINGS, SigningKeys],
      useFactory: (settings: ChallengeSettings, keys: SigningKeys) =>
        new TokenVerifier(
          settings.issuers,
          { issuer: settings.challenge.tokens.issuer, audience: settings.challenge.tokens.audience, jwks: () => keys.jwks() },
          settings.clockSkewSeconds,
        ),
    },
    TokenIssuer,
  ],
  exports: [TokenIssuer, TokenVerifier, SigningKeys],
})
export class TokensModule {}
