export * from './data-source.options';
export * from './epoch.transformer';
