export * from './logger';
export * from './correlation';
export * from './domain.error';
export * from './http-exception.filter';
export * from './metrics';
export * from './correlation.interceptor';
