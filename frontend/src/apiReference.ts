// The API reference page's model: the operator API's own OpenAPI document
// (GET /api/openapi.json, served by the control plane and held against its
// routes by a test) turned into rows a page can list and search. Nothing
// about the API is written here by hand, so the page cannot drift from it.

/** The parts of an OpenAPI 3 document the page reads. */
export interface OpenApiSchema {
  type?: string;
  pattern?: string;
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  description?: string;
  required?: string[];
  properties?: Record<string, OpenApiSchema>;
  items?: OpenApiSchema;
  $ref?: string;
}

interface OpenApiOperation {
  summary?: string;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string; description?: string; schema?: OpenApiSchema }>;
  requestBody?: { content?: Record<string, { schema?: OpenApiSchema }> };
  responses?: Record<string, { description?: string }>;
}

export interface OpenApiDocument {
  info?: { title?: string; version?: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
}

export interface Field {
  name: string;
  /** "string", "integer"… with its bounds: "string, 12–1024 characters", "one of admin, operator". */
  form: string;
  required: boolean;
}

export interface Operation {
  /** The part of the API it belongs to: the path's first segment after /api/ ("agents", "jobs"…). */
  group: string;
  method: string;
  path: string;
  summary: string;
  /** False for the few public calls (health, login, refresh, this document). */
  needsLogin: boolean;
  pathParameters: Field[];
  body: Field[];
  success: string[];
  errors: string[];
}

const METHOD_ORDER = ['get', 'post', 'put', 'patch', 'delete'];

/** How a value must look, in words: type, then bounds, enum or pattern. */
export function describe(schema: OpenApiSchema | undefined): string {
  if (!schema) return 'any';
  if (schema.$ref) return schema.$ref.split('/').pop() ?? 'object';
  const parts = [schema.type ?? 'any'];
  if (schema.enum) parts.push(`one of ${schema.enum.map(String).join(', ')}`);
  const length = bounds(schema.minLength, schema.maxLength, 'characters');
  if (length) parts.push(length);
  const range = bounds(schema.minimum, schema.maximum, '');
  if (range) parts.push(range);
  if (schema.maxItems !== undefined) parts.push(`at most ${schema.maxItems} items`);
  if (schema.type === 'array' && schema.items) parts.push(`of ${describe(schema.items)}`);
  if (schema.pattern) parts.push(`matching ${schema.pattern}`);
  return parts.join(', ');
}

function bounds(low: number | undefined, high: number | undefined, unit: string): string {
  const suffix = unit ? ` ${unit}` : '';
  if (low !== undefined && high !== undefined) return `${low}–${high}${suffix}`;
  if (low !== undefined) return `at least ${low}${suffix}`;
  if (high !== undefined) return `at most ${high}${suffix}`;
  return '';
}

function groupOf(path: string): string {
  return path.split('/').filter(Boolean)[1] ?? 'api';
}

/** Every operation of the document, grouped by the part of the API it belongs to, paths in order. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const body = op.requestBody?.content?.['application/json']?.schema;
      const statuses = Object.keys(op.responses ?? {});
      operations.push({
        group: groupOf(path),
        method: method.toUpperCase(),
        path,
        summary: op.summary ?? '',
        needsLogin: (op.security ?? []).length > 0,
        pathParameters: (op.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => ({ name: p.name, form: p.description ?? describe(p.schema), required: true })),
        body: Object.entries(body?.properties ?? {}).map(([name, schema]) => ({
          name,
          form: describe(schema),
          required: (body?.required ?? []).includes(name),
        })),
        success: statuses.filter((s) => s.startsWith('2')),
        errors: statuses.filter((s) => !s.startsWith('2')),
      });
    }
  }
  return operations.sort(
    (a, b) =>
      a.group.localeCompare(b.group) ||
      a.path.localeCompare(b.path) ||
      METHOD_ORDER.indexOf(a.method.toLowerCase()) - METHOD_ORDER.indexOf(b.method.toLowerCase()),
  );
}

/** Whether an operation matches every word typed in the search box (method, path or summary). */
export function matches(op: Operation, query: string): boolean {
  const text = `${op.method} ${op.path} ${op.summary}`.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => text.includes(word));
}

/** A curl command for the operation, with the caller's token in an environment variable. */
export function curlFor(op: Operation, origin: string): string {
  const parts = ['curl', '-sS'];
  if (op.method !== 'GET') parts.push('-X', op.method);
  if (op.needsLogin) parts.push('-H', '"Authorization: Bearer $FLEETVISOR_TOKEN"');
  if (op.body.length > 0) {
    const example = Object.fromEntries(op.body.filter((f) => f.required).map((f) => [f.name, `<${f.name}>`]));
    parts.push('-H', "'Content-Type: application/json'", '-d', `'${JSON.stringify(example)}'`);
  }
  parts.push(`"${origin}${op.path}"`);
  return parts.join(' ');
}
