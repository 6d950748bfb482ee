// Public surface of the network library: IP parsing and the networks an address belongs to, one rule for the
// gateway's cache keys and risk's network features. No Nest imports here.
export * from './ip-network';
