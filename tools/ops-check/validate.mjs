#!/usr/bin/env node
// Offline validation of rendered Kubernetes manifests (the output of `helm template`), without a cluster.
//
//   node validate.mjs [--external Kind/name ...] FILE.yaml...      ("-" reads standard input)
//
// For every document:
//   schema   the kubernetes-models validator generated from the Kubernetes OpenAPI spec (types, required
//            fields, enums, formats);
//   strict   no unknown fields: the API server (kubectl's default --validate=strict) rejects them, and Helm
//            would silently drop them, so a mis-indented key never takes effect. Field names come from the
//            type declarations that kubernetes-models ships next to each validator;
//   CRDs     ServiceMonitor and PrometheusRule have no model: a structural check of the fields the
//            Prometheus Operator requires, reported as "struct" (never skipped silently);
//   refs     what the API would accept but the release would not run with: selectors that select nothing,
//            named ports that do not exist, ConfigMaps/Secrets/ServiceAccounts that are neither rendered nor
//            declared external with --external, duplicate objects, invalid names and port numbers.
// Unknown kinds fail. Prints one line per document and a summary; exit code 1 when anything failed.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const HERE = dirname(fileURLToPath(import.meta.url));
const MODELS = join(HERE, 'node_modules', 'kubernetes-models');
const NODE_MODULES = join(HERE, 'node_modules');

// ---------------------------------------------------------------------------------------------------
// Strict field check from the .d.ts declarations: interface -> {prop: {kind, ref}}.

const typeCache = new Map(); // .d.ts path -> parsed interface (or null for a type alias / leaf)

function resolveImport(fromFile, spec) {
  if (spec.startsWith('.')) return resolve(dirname(fromFile), spec.replace(/\.js$/, '') + '.d.ts');
  return join(NODE_MODULES, spec.replace(/\.js$/, '') + '.d.ts');
}

function parseDts(file) {
  if (typeCache.has(file)) return typeCache.get(file);
  typeCache.set(file, null); // guards recursive types (JSONSchemaProps) while parsing
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  const imports = new Map();
  for (const m of text.matchAll(/import \{([^}]+)\} from "([^"]+)"/g))
    for (const name of m[1].split(',').map((s) => s.trim()).filter(Boolean)) imports.set(name, m[2]);
  const head = text.match(/^export interface (\w+)(?: extends [^{]+)? \{$/m);
  if (!head) return null; // a type alias such as IntOrString or Quantity: a leaf
  const body = text.slice(head.index + head[0].length, text.indexOf('\n}', head.index));
  const props = new Map();
  const lines = body.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const m = lines[k].match(/^ {4}"([^"]+)"\??: (.*)$/);
    if (!m) continue;
    let [, name, type] = m;
    if (type === '{') type = `{ ${(lines[k + 1] || '').trim()}`; // map: { [key: string]: X; }
    const ref = (t) => {
      const r = t.match(/^(IIoK8s\w+)/);
      return r && imports.has(r[1]) ? resolveImport(file, imports.get(r[1])) : null;
    };
    let entry = { kind: 'leaf' };
    if (type.startsWith('Array<')) {
      const inner = ref(type.slice(6));
      if (inner) entry = { kind: 'array', ref: inner };
    } else if (type.startsWith('{ [key: string]: ')) {
      const inner = ref(type.slice('{ [key: string]: '.length));
      if (inner) entry = { kind: 'map', ref: inner };
    } else {
      const inner = ref(type);
      if (inner) entry = { kind: 'object', ref: inner };
    }
    props.set(name, entry);
  }
  const parsed = { props };
  typeCache.set(file, parsed);
  return parsed;
}

function unknownFields(value, dtsFile, path, out) {
  const t = parseDts(dtsFile);
  if (!t || value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const p = t.props.get(key);
    if (!p) { out.push(`${path}/${key}: unknown field`); continue; }
    if (p.kind === 'object') unknownFields(v, p.ref, `${path}/${key}`, out);
    else if (p.kind === 'array' && Array.isArray(v)) v.forEach((e, k) => unknownFields(e, p.ref, `${path}/${key}/${k}`, out));
    else if (p.kind === 'map' && v && typeof v === 'object') for (const [mk, mv] of Object.entries(v)) unknownFields(mv, p.ref, `${path}/${key}/${mk}`, out);
  }
}

// ---------------------------------------------------------------------------------------------------
// Structural checks for the Prometheus Operator's CRDs (no model in kubernetes-models).

const DURATION = /^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$/;
const isStrMap = (m) => m === undefined || (m && typeof m === 'object' && !Array.isArray(m) && Object.values(m).every((v) => typeof v === 'string'));

function checkServiceMonitor(o) {
  const e = [];
  const s = o.spec;
  if (!s || typeof s !== 'object') return ['spec is required'];
  if (!s.selector || typeof s.selector !== 'object') e.push('spec.selector is required');
  if (!Array.isArray(s.endpoints) || s.endpoints.length === 0) e.push('spec.endpoints must be a non-empty array');
  (s.endpoints || []).forEach((ep, k) => {
    if (!ep.port && ep.targetPort === undefined) e.push(`spec.endpoints[${k}] needs port or targetPort`);
    for (const f of ['interval', 'scrapeTimeout']) if (ep[f] !== undefined && (typeof ep[f] !== 'string' || !DURATION.test(ep[f]) || ep[f] === '')) e.push(`spec.endpoints[${k}].${f} is not a duration: ${ep[f]}`);
    if (ep.path !== undefined && !String(ep.path).startsWith('/')) e.push(`spec.endpoints[${k}].path must start with /`);
    (ep.relabelings || []).forEach((r, j) => { if (r.sourceLabels && !Array.isArray(r.sourceLabels)) e.push(`spec.endpoints[${k}].relabelings[${j}].sourceLabels must be a list`); });
  });
  if (s.namespaceSelector && s.namespaceSelector.matchNames && !Array.isArray(s.namespaceSelector.matchNames)) e.push('spec.namespaceSelector.matchNames must be a list');
  return e;
}

function checkPrometheusRule(o) {
  const e = [];
  const groups = o.spec && o.spec.groups;
  if (!Array.isArray(groups) || groups.length === 0) return ['spec.groups must be a non-empty array'];
  const names = new Set();
  groups.forEach((g, k) => {
    if (!g.name) e.push(`spec.groups[${k}].name is required`);
    if (names.has(g.name)) e.push(`spec.groups[${k}].name ${g.name} is duplicated`);
    names.add(g.name);
    if (!Array.isArray(g.rules) || g.rules.length === 0) e.push(`spec.groups[${k}].rules must be a non-empty array`);
    (g.rules || []).forEach((r, j) => {
      const at = `spec.groups[${k}].rules[${j}]`;
      if (!!r.alert === !!r.record) e.push(`${at} needs exactly one of alert and record`);
      if (typeof r.expr !== 'string' || !r.expr.trim()) e.push(`${at}.expr must be a non-empty string`);
      if (r.for !== undefined && (typeof r.for !== 'string' || !DURATION.test(r.for))) e.push(`${at}.for is not a duration: ${r.for}`);
      if (!isStrMap(r.labels)) e.push(`${at}.labels must map strings to strings`);
      if (!isStrMap(r.annotations)) e.push(`${at}.annotations must map strings to strings`);
      if (r.record && r.annotations) e.push(`${at}: a recording rule has no annotations`);
    });
  });
  return e;
}

const STRUCTURAL = {
  'monitoring.coreos.com/v1/ServiceMonitor': checkServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': checkPrometheusRule,
};

// ---------------------------------------------------------------------------------------------------
// Name and port rules the API server enforces outside the OpenAPI schema.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/; // IANA_SVC_NAME, also: <= 15 chars, a letter

function nameRules(o) {
  const e = [];
  const name = o.metadata && o.metadata.name;
  if (!name) return ['metadata.name is required'];
  const labelNamed = ['Service'];
  if (labelNamed.includes(o.kind) ? !(DNS1123_LABEL.test(name) && name.length <= 63) : !(DNS1123_SUBDOMAIN.test(name) && name.length <= 253))
    e.push(`metadata.name "${name}" is not a valid ${o.kind} name`);
  for (const [k, v] of Object.entries((o.metadata && o.metadata.labels) || {}))
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) e.push(`metadata.labels.${k}: invalid label value "${v}"`);
  return e;
}

function portRules(o) {
  const e = [];
  const checkPort = (p, at) => { if (!Number.isInteger(p) || p < 1 || p > 65535) e.push(`${at}: port ${JSON.stringify(p)} is not an integer in 1-65535`); };
  const checkName = (n, at) => { if (n !== undefined && (n.length > 15 || !PORT_NAME.test(n) || !/[a-z]/.test(n))) e.push(`${at}: invalid port name "${n}"`); };
  for (const { c, at } of containers(o)) (c.ports || []).forEach((p, k) => { checkPort(p.containerPort, `${at}.ports[${k}]`); checkName(p.name, `${at}.ports[${k}]`); });
  if (o.kind === 'Service') (o.spec.ports || []).forEach((p, k) => {
    checkPort(p.port, `spec.ports[${k}]`);
    if (p.nodePort !== undefined) checkPort(p.nodePort, `spec.ports[${k}].nodePort`);
    if (typeof p.targetPort === 'number') checkPort(p.targetPort, `spec.ports[${k}].targetPort`);
    if (o.spec.ports.length > 1 && !p.name) e.push(`spec.ports[${k}]: every port of a multi-port Service needs a name`);
  });
  return e;
}

// ---------------------------------------------------------------------------------------------------
// Cross-object references.

const WORKLOADS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'];
const podTemplate = (o) => (WORKLOADS.includes(o.kind) ? o.spec && o.spec.template : null);
function containers(o) {
  const t = podTemplate(o);
  if (!t || !t.spec) return [];
  return [...(t.spec.initContainers || []).map((c, k) => ({ c, at: `spec.template.spec.initContainers[${k}]` })),
    ...(t.spec.containers || []).map((c, k) => ({ c, at: `spec.template.spec.containers[${k}]` }))];
}
const matches = (sel, labels) => !!sel && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => (labels || {})[k] === v);
function matchesSelector(selector, labels) {
  if (!selector) return false;
  const ml = selector.matchLabels || {};
  const ok = Object.entries(ml).every(([k, v]) => (labels || {})[k] === v);
  const ex = (selector.matchExpressions || []).every((x) => {
    const has = labels && Object.prototype.hasOwnProperty.call(labels, x.key);
    if (x.operator === 'In') return has && x.values.includes(labels[x.key]);
    if (x.operator === 'NotIn') return !has || !x.values.includes(labels[x.key]);
    if (x.operator === 'Exists') return has;
    if (x.operator === 'DoesNotExist') return !has;
    return false;
  });
  return ok && ex && (Object.keys(ml).length > 0 || (selector.matchExpressions || []).length > 0);
}

function crossChecks(objs, external) {
  const errs = new Map(); // key -> [messages]
  const add = (o, msg) => { const k = `${o.kind}/${o.metadata.name}`; errs.set(k, [...(errs.get(k) || []), msg]); };
  const have = new Set(objs.map((o) => `${o.kind}/${o.metadata && o.metadata.name}`));
  const seen = new Set();
  for (const o of objs) {
    const k = `${o.kind}/${o.metadata && o.metadata.namespace || ''}/${o.metadata && o.metadata.name}`;
    if (seen.has(k)) add(o, 'rendered twice');
    seen.add(k);
  }
  const exists = (kind, name) => have.has(`${kind}/${name}`) || external.has(`${kind}/${name}`);
  const pods = objs.filter((o) => podTemplate(o)).map((o) => ({ o, labels: o.spec.template.metadata && o.spec.template.metadata.labels, t: o.spec.template }));
  const podPorts = (p) => new Set(p.t.spec.containers.flatMap((c) => (c.ports || []).map((x) => x.name).filter(Boolean)));

  for (const o of objs) {
    const t = podTemplate(o);
    if (t) {
      if (o.spec.selector && !matchesSelector(o.spec.selector, t.metadata && t.metadata.labels)) add(o, 'spec.selector does not match the pod template labels');
      const sa = t.spec.serviceAccountName;
      if (sa && sa !== 'default' && !exists('ServiceAccount', sa)) add(o, `serviceAccountName ${sa}: no such ServiceAccount (rendered or --external)`);
      for (const v of t.spec.volumes || []) {
        if (v.configMap && !v.configMap.optional && !exists('ConfigMap', v.configMap.name)) add(o, `volume ${v.name}: ConfigMap ${v.configMap.name} is neither rendered nor --external`);
        if (v.secret && !v.secret.optional && !exists('Secret', v.secret.secretName)) add(o, `volume ${v.name}: Secret ${v.secret.secretName} is neither rendered nor --external`);
      }
      for (const ips of t.spec.imagePullSecrets || []) if (!exists('Secret', ips.name)) add(o, `imagePullSecrets: Secret ${ips.name} is neither rendered nor --external`);
      const volumes = new Set((t.spec.volumes || []).map((v) => v.name));
      for (const { c, at } of containers(o)) {
        const names = new Set((c.ports || []).map((p) => p.name).filter(Boolean));
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
          const port = c[probe] && (c[probe].httpGet || c[probe].tcpSocket || {}).port;
          if (typeof port === 'string' && !names.has(port)) add(o, `${at}.${probe}: no container port named ${port}`);
        }
        for (const m of c.volumeMounts || []) if (!volumes.has(m.name)) add(o, `${at}.volumeMounts: no volume named ${m.name}`);
        for (const env of c.env || []) {
          const r = env.valueFrom && (env.valueFrom.secretKeyRef || env.valueFrom.configMapKeyRef);
          const kind = env.valueFrom && env.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
          if (r && !r.optional && !exists(kind, r.name)) add(o, `${at}.env ${env.name}: ${kind} ${r.name} is neither rendered nor --external`);
        }
      }
    }
    if (o.kind === 'Service' && o.spec.selector) {
      const sel = pods.filter((p) => matches(o.spec.selector, p.labels));
      if (sel.length === 0) add(o, 'spec.selector selects no rendered pod template');
      for (const p of o.spec.ports || [])
        if (typeof p.targetPort === 'string' && !sel.some((s) => podPorts(s).has(p.targetPort))) add(o, `port ${p.name}: no selected container has a port named ${p.targetPort}`);
    }
    if (o.kind === 'PodDisruptionBudget' && !pods.some((p) => matchesSelector(o.spec.selector, p.labels))) add(o, 'spec.selector selects no rendered pod template');
    if (o.kind === 'HorizontalPodAutoscaler') {
      const r = o.spec.scaleTargetRef;
      if (!exists(r.kind, r.name)) add(o, `scaleTargetRef ${r.kind}/${r.name} is not rendered`);
      const target = objs.find((x) => x.kind === r.kind && x.metadata.name === r.name);
      if (target && target.spec.replicas !== undefined) add(o, `${r.kind}/${r.name} sets spec.replicas although the HPA owns it (every helm upgrade would reset it)`);
      if (o.spec.minReplicas > o.spec.maxReplicas) add(o, 'minReplicas > maxReplicas');
    }
    if (o.kind === 'NetworkPolicy') {
      const sel = pods.filter((p) => matchesSelector(o.spec.podSelector, p.labels));
      if (sel.length === 0) add(o, 'spec.podSelector selects no rendered pod template');
      for (const rule of o.spec.ingress || [])
        for (const p of rule.ports || [])
          if (typeof p.port === 'string' && !sel.some((s) => podPorts(s).has(p.port))) add(o, `ingress port ${p.port}: no selected container has a port of that name`);
    }
    if (o.kind === 'ServiceMonitor') {
      const svcs = objs.filter((s) => s.kind === 'Service' && matchesSelector(o.spec.selector, s.metadata.labels));
      if (svcs.length === 0) add(o, 'spec.selector selects no rendered Service');
      for (const ep of o.spec.endpoints || [])
        if (ep.port && !svcs.some((s) => (s.spec.ports || []).some((p) => p.name === ep.port))) add(o, `endpoint port ${ep.port}: no selected Service has a port of that name`);
    }
  }
  return errs;
}

// ---------------------------------------------------------------------------------------------------

async function modelFor(obj) {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const dir = group === '' ? version : `${group}/${version}`;
  const dts = join(MODELS, dir, `${obj.kind}.d.ts`);
  if (!/^[A-Za-z0-9.\/]+$/.test(dir) || !/^[A-Za-z]+$/.test(obj.kind) || !existsSync(dts)) return null;
  const mod = await import(`kubernetes-models/${dir}/${obj.kind}`);
  return { Cls: mod[obj.kind], dts };
}

async function main() {
  const args = process.argv.slice(2);
  const external = new Set();
  const files = [];
  for (let k = 0; k < args.length; k++) {
    if (args[k] === '--external') external.add(args[++k]);
    else files.push(args[k]);
  }
  if (files.length === 0) { console.error('usage: validate.mjs [--external Kind/name ...] FILE.yaml... (- for stdin)'); process.exit(2); }

  const objs = [];
  let bad = 0;
  for (const f of files) {
    const text = readFileSync(f === '-' ? 0 : f, 'utf8');
    for (const d of parseAllDocuments(text)) {
      if (d.errors && d.errors.length) { bad++; console.log(`FAIL ${f}: YAML ${d.errors[0].message}`); continue; }
      const o = d.toJSON();
      if (!o) continue;
      if (typeof o !== 'object' || !o.apiVersion || !o.kind) { bad++; console.log(`FAIL ${f}: a document without apiVersion/kind`); continue; }
      objs.push(o);
    }
  }

  const cross = crossChecks(objs.filter((o) => o.metadata && o.metadata.name), external);
  const counts = { schema: 0, struct: 0 };
  for (const o of objs) {
    const id = `${o.kind}/${o.metadata && o.metadata.name}`;
    const problems = [...nameRules(o)];
    let how;
    const structural = STRUCTURAL[`${o.apiVersion}/${o.kind}`];
    if (structural) {
      how = 'struct';
      problems.push(...structural(o));
    } else {
      const m = await modelFor(o);
      if (!m) { bad++; console.log(`FAIL ${id} (${o.apiVersion}): no schema for this kind, and no structural check either`); continue; }
      how = 'schema';
      try { new m.Cls(o).validate(); } catch (e) { problems.push(e.message); }
      const unknown = [];
      unknownFields(o, m.dts, '', unknown);
      problems.push(...unknown);
      problems.push(...portRules(o));
    }
    problems.push(...(cross.get(id) || []));
    counts[how]++;
    if (problems.length) { bad++; console.log(`FAIL ${id} [${how}]: ${problems.join('; ').slice(0, 2000)}`); }
    else console.log(`ok   ${id} [${how}${how === 'struct' ? ': no model in kubernetes-models, required fields checked' : ''}]`);
  }
  console.log(`${objs.length} docs (${counts.schema} schema-validated, ${counts.struct} structurally checked), ${bad} invalid`);
  process.exit(bad ? 1 : 0);
}

await main();
