export { ApiKeyAuth, type Scope } from './api-keys';
