// Stepped-up tokens: the signing key, issuing, the JWKS, and the verifier every bearer route uses
// (it trusts the OIDC issuers for access tokens and this service's own key for stepped-up ones).
import { Logger, Module } from '@nestjs/common';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import { TokenVerifier } from '@stepgate/identity';
import type { Repository } from 'typeorm';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../config';
import { CHALLENGE_DB } from '../database/challenge-database';
import { SecretBox } from '../factors/crypto/secret-box';
import { JwksHttpController } from './jwks.http.controller';
import { SigningKeyEntity } from './signing-key.entity';
import { loadSigningKeys, SigningKeys } from './signing-keys';
import { TokenIssuer } from './token.issuer';

@Module({
  imports: [TypeOrmModule.forFeature([SigningKeyEntity], CHALLENGE_DB)],
  controllers: [JwksHttpController],
  providers: [
    {
      provide: SigningKeys,
      inject: [CHALLENGE_CONFIG, getRepositoryToken(SigningKeyEntity, CHALLENGE_DB), SecretBox],
      useFactory: (config: ChallengeConfig, rows: Repository<SigningKeyEntity>, box: SecretBox) =>
        loadSigningKeys(config.secrets.signingJwk, rows, box, new Logger('SigningKeys')),
    },
    {
      provide: TokenVerifier,
      inject: [CHALLENGE_CONFIG, SigningKeys],
      useFactory: (config: ChallengeConfig, keys: SigningKeys) =>
        new TokenVerifier(
          config.issuers,
          {
            issuer: config.challenge.tokens.issuer,
            audience: config.challenge.tokens.audience,
            jwks: () => keys.jwks(),
          },
          config.clockSkewSeconds,
        ),
    },
    TokenIssuer,
  ],
  exports: [TokenIssuer, TokenVerifier, SigningKeys],
})
export class TokensModule {}
