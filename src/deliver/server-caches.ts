// What a long-running process (the LMTP server) keeps between deliveries:
// database connections and compiled Sieve scripts. The server makes one
// empty ServerCaches and hands it to every lookup and delivery; each part is
// made on first use by the module that owns it, inside the chunk that is
// loaded only when needed (SQL, Sieve). The LDA passes none: one delivery
// per process has nothing to keep.

import type { SqlPools } from '../userdb/sql/pool.js';
import type { CompiledScriptMemory } from '../sieve/script-cache.js';

export interface ServerCaches {
  /** made by src/userdb/sql.ts on the first SQL lookup */
  sqlPools?: SqlPools;
  /** made by src/deliver/sieve-delivery.ts on the first delivery with Sieve */
  sieveScripts?: CompiledScriptMemory;
}
