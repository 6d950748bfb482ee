export * from './logger';
export * from './errors/domain.error';
export * from './errors/http-statuses';
export * from './errors/http-errors.filter';
export * from './errors/rpc-errors.filter';
export * from './errors/zod-body.pipe';
export * from './metrics';
