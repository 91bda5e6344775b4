import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printGatewaySchema } from '../src/graphql/schema.js';

// `npm run schema` writes schema/schema.graphql; `npm run schema:check` fails when it is stale.
const target = fileURLToPath(new URL('../schema/schema.graphql', import.meta.url));
const printed = printGatewaySchema();

if (process.argv.includes('--check')) {
  const committed = readFileSync(target, 'utf8');
  if (committed !== printed) {
    console.error('schema/schema.graphql is stale: run `npm run schema` and commit the result.');
    process.exit(1);
  }
  console.log('schema/schema.graphql is current.');
} else {
  writeFileSync(target, printed);
  console.log(`wrote ${target}`);
}
