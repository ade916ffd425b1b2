export { ApiKeyAuth, callerOf, parseKeyEntry, type Scope } from './api-keys';
