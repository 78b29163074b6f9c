// The SQLite task store: one database file, one connection.
export { sqliteFile } from './connection.js';
export { SqliteTaskStore } from './store.js';
