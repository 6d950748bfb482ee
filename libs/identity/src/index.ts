export * from './token.verifier';
