export * from './route-policy';
export * from './route-view';
export * from './risk-tunables';
export * from './policy-document';
export * from './policy.diff';
export * from './policy.follower';
