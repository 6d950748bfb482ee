// Builders for specs that score: the shipped default policy, terse contexts, profiles and populations.
// Specs only; no production code imports this entry.
export * from './scoring.fixtures';
