export * from './route-policy';
export * from './policy.diff';
export * from './policy.follower';
