export * from './config.issues';
export * from './config.json-schema';
export * from './config.loader';
export * from './runtime.env';
