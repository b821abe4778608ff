/**
 * The setup domain, shared by the wizard (src/ui/wizard), `dualdb setup --plain`
 * (src/cli/prompts) and `dualdb setup --quick`. No Ink, no prompts: discovery,
 * the connection test with its diagnosis, grants, provisioning, the private
 * server, the schema and migration steps, and saving the .env.
 */

export * from '../engines/mysql/privileges.js';
export * from './actions.js';
export * from './answers.js';
export * from './connection.js';
export * from './discover.js';
export * from './local-server.js';
export * from './migration.js';
export * from './plan.js';
export * from './provision.js';
export * from './schema.js';
export * from './session.js';
export * from './state.js';
