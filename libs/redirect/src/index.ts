export * from './return-to';
