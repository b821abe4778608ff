export * from './config.js';
export * from './load.js';
export * from './schema.js';
export * from './write.js';
