export * from './config.loader';
export * from './runtime.env';
