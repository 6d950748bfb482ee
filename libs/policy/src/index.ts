export * from './route-policy';
export * from './policy.diff';
