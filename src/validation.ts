// Validation messages for people, built from the schema itself: the field, what is wrong with its
// value and what it accepts (`format must be one of png, webp, jpeg (got "gif")`). JSON bodies (the
// error handler, after Ajv refused one) and upload forms (formOptions, with TypeBox) both come here,
// so a field says the same whichever way it was sent, and a field added to the schema gets its
// message with no code of its own. No Fastify here: the command line reads options the same way.
//
// What a value may be is read from standard JSON Schema keywords (const and unions of them, type,
// minimum/maximum, lengths, formats, properties, items). Two keys of ours add what a schema cannot
// say by itself (see expecting()): a pattern's meaning in words, and an error code other than
// invalid_request for a field that has its own (a URL that is not one is unsupported_url).
import type { TSchema } from 'typebox';
import Value from 'typebox/value';
import { ServiceError, type ErrorCode } from './errors.js';

/** What a value must be, in words, where the schema's keywords cannot say it (a pattern). */
export const EXPECTED = 'x-expected';
/** The error code of a value that does not fit this schema, when it is not invalid_request. */
export const ERROR_CODE = 'x-error-code';

/** Our keys, for Ajv (which refuses keywords it does not know): annotations, they validate nothing. */
export const SCHEMA_KEYWORDS: readonly string[] = [EXPECTED, ERROR_CODE];

/** Schema options for a field whose rule needs words: `Type.String({ pattern, ...expecting("a colour like #f4f4f4") })`. */
export function expecting(words: string, code?: ErrorCode): Record<string, string> {
  return code ? { [EXPECTED]: words, [ERROR_CODE]: code } : { [EXPECTED]: words };
}

type Node = Record<string, unknown>;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const asNodes = (value: unknown): Node[] => (Array.isArray(value) ? value.filter(isRecord) : []);
const branches = (node: Node): Node[] => asNodes(node.anyOf ?? node.oneOf);

/** "a", "a or b", "a, b or c". */
function either(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

function range(node: Node): string {
  const min = typeof node.minimum === 'number' ? node.minimum : undefined;
  const max = typeof node.maximum === 'number' ? node.maximum : undefined;
  const above = typeof node.exclusiveMinimum === 'number' ? node.exclusiveMinimum : undefined;
  const below = typeof node.exclusiveMaximum === 'number' ? node.exclusiveMaximum : undefined;
  const parts: string[] = [];
  if (min !== undefined && max !== undefined) parts.push(`from ${min} to ${max}`);
  else if (min !== undefined) parts.push(`of at least ${min}`);
  else if (max !== undefined) parts.push(`of at most ${max}`);
  if (above !== undefined) parts.push(`above ${above}`);
  if (below !== undefined) parts.push(`below ${below}`);
  return parts.length > 0 ? ` ${parts.join(' and ')}` : '';
}

function lengths(node: Node, unit: string): string {
  const min = typeof node.minLength === 'number' ? node.minLength : typeof node.minItems === 'number' ? node.minItems : undefined;
  const max = typeof node.maxLength === 'number' ? node.maxLength : typeof node.maxItems === 'number' ? node.maxItems : undefined;
  if (min !== undefined && min === max) return ` of ${min} ${unit}`;
  if (min !== undefined && max !== undefined) return ` of ${min} to ${max} ${unit}`;
  if (min !== undefined && min > 0) return ` of at least ${min} ${unit}`;
  if (max !== undefined) return ` of at most ${max} ${unit}`;
  return '';
}

const FORMATS: Record<string, string> = { uri: 'a URL', email: 'an email address', 'date-time': 'a date and time (RFC 3339)', uuid: 'a UUID' };

/** What a schema accepts, as a phrase that follows "must be". */
export function describe(node: Node): string {
  const expected = node[EXPECTED];
  if (typeof expected === 'string') return expected;
  if ('const' in node) return String(node.const);
  if (Array.isArray(node.enum)) return node.enum.length > 2 ? `one of ${node.enum.join(', ')}` : either(node.enum.map(String));
  const options = branches(node);
  if (options.length > 0) {
    const literals = options.filter((option) => 'const' in option && !(EXPECTED in option)).map((option) => String(option.const));
    const others = options.filter((option) => !('const' in option) || EXPECTED in option).map(describe);
    if (others.length === 0 && literals.length > 2) return `one of ${literals.join(', ')}`;
    return either([...literals, ...others]);
  }
  switch (node.type) {
    case 'integer':
      return `an integer${range(node)}`;
    case 'number':
      return `a number${range(node)}`;
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'string': {
      const format = typeof node.format === 'string' ? (FORMATS[node.format] ?? `a string in the ${node.format} format`) : undefined;
      const pattern = typeof node.pattern === 'string' ? `a string matching ${node.pattern}` : undefined;
      return format ?? pattern ?? 'a string';
    }
    case 'array': {
      const items = isRecord(node.items) ? `, each ${describe(node.items)}` : '';
      return `a list${lengths(node, 'items')}${items}`;
    }
    case 'object': {
      const names = Object.keys(isRecord(node.properties) ? node.properties : {});
      if (names.length === 0) return 'an object';
      return `an object with the field${names.length > 1 ? 's' : ''} ${names.join(', ')}`;
    }
    default:
      return 'a valid value';
  }
}

/** A value, short, as it was sent. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (isRecord(value)) return 'an object';
  return String(value);
}

const JSON_TYPES: Record<string, (value: unknown) => boolean> = {
  object: isRecord,
  array: Array.isArray,
};

export interface Problem {
  code: ErrorCode;
  message: string;
}

/**
 * The first thing wrong with `value` under `schema`, or undefined when it fits. `subject` names the
 * whole value in messages about it ("the body", "the form"); fields are named by their path
 * (`background.image_url`, `roi[2]`).
 */
export function findProblem(schema: TSchema, value: unknown, subject = 'the value'): Problem | undefined {
  return problemAt(schema as unknown as Node, value, '', subject);
}

/** Whether `value` fits `node` (a plain boolean: Value.Check's type guard would narrow `value` to never after a refusal). */
const fits = (node: Node, value: unknown): boolean => Value.Check(node as unknown as TSchema, value);

function problemAt(node: Node, value: unknown, path: string, subject: string): Problem | undefined {
  if (fits(node, value)) return undefined;
  const name = path || subject;
  const wrong = (): Problem => {
    const code = (typeof node[ERROR_CODE] === 'string' ? node[ERROR_CODE] : 'invalid_request') as ErrorCode;
    // A string of the right kind but the wrong length: its length is what to fix.
    const { minLength, maxLength, ...anyLength } = node;
    if (typeof value === 'string' && (minLength !== undefined || maxLength !== undefined) && fits(anyLength, value)) {
      return { code, message: `${name} must be ${describe(node)}${lengths(node, 'characters')} (got ${value.length} characters)` };
    }
    return { code, message: `${name} must be ${describe(node)} (got ${shown(value)})` };
  };

  const options = branches(node);
  if (options.length > 0) {
    // A list or an object says which branch was meant (when only one takes that shape): what is wrong inside it says more.
    const shaped = options.filter((option) => typeof option.type === 'string' && JSON_TYPES[option.type]?.(value));
    return shaped.length === 1 ? problemAt(shaped[0]!, value, path, subject) : wrong();
  }

  if (node.type === 'object' && isRecord(value)) {
    const properties = isRecord(node.properties) ? node.properties : {};
    if (node.additionalProperties === false) {
      const unknown = Object.keys(value).find((key) => !Object.hasOwn(properties, key));
      if (unknown !== undefined) {
        const fields = Object.keys(properties).join(', ');
        return { code: 'invalid_request', message: `unknown field ${join(path, unknown)}: the fields${path ? ` of ${path}` : ''} are ${fields}` };
      }
    }
    const required = Array.isArray(node.required) ? node.required.filter((key): key is string => typeof key === 'string') : [];
    for (const key of required) {
      const field = properties[key];
      if (value[key] === undefined) return { code: 'invalid_request', message: `${join(path, key)} is required${isRecord(field) ? `: ${describe(field)}` : ''}` };
    }
    for (const [key, field] of Object.entries(properties)) {
      if (value[key] === undefined || !isRecord(field)) continue;
      const problem = problemAt(field, value[key], join(path, key), subject);
      if (problem) return problem;
    }
  }

  if (node.type === 'array' && Array.isArray(value) && isRecord(node.items) && fits({ ...node, items: {} }, value)) {
    // The list itself is right (its length); one of its items is not.
    for (const [index, item] of value.entries()) {
      const problem = problemAt(node.items, item, `${name}[${index}]`, subject);
      if (problem) return problem;
    }
  }
  return wrong();
}

const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);

/** findProblem as the error the service answers with, or undefined when the value fits. */
export function validationError(schema: TSchema, value: unknown, subject: string): ServiceError | undefined {
  const problem = findProblem(schema, value, subject);
  return problem && new ServiceError(problem.code, problem.message);
}
