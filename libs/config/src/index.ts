export * from './config.issues';
export * from './config.json-schema';
export * from './config.loader';
export * from './config.watch';
export * from './runtime.env';
export * from './secrets';
