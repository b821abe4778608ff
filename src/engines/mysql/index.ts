export * from './connect.js';
export * from './diagnose.js';
export * from './introspect.js';
export * from './quote.js';
