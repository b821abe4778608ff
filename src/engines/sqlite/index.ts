export * from './introspect.js';
export * from './open.js';
export * from './quote.js';
