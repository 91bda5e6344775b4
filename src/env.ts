import { z } from 'zod';

/**
 * Building blocks for environment variables, shared by the gateway's configuration (config.ts) and
 * the configuration fragments of the providers (providers/<name>/config.ts).
 */

/** An http(s) URL, without trailing slashes; the message names the variable. */
export const url = (name: string) =>
  z
    .string()
    .trim()
    .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), {
      message: `${name} must be an http(s) URL`,
    })
    .transform((value) => value.replace(/\/+$/, ''));

/** A secret or identifier that may be left unset. */
export const optionalSecret = z.string().trim().min(1).optional();
export const positiveInt = z.coerce.number().int().positive();
export const nonNegativeInt = z.coerce.number().int().nonnegative();

/** `true`/`false` (also 1/0, yes/no, on/off), as operators write switches. */
export const booleanSwitch = z
  .string()
  .trim()
  .toLowerCase()
  .refine((value) => ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(value), { message: 'must be true or false' })
  .transform((value) => ['true', '1', 'yes', 'on'].includes(value));

/**
 * A provider's part of the configuration: the environment variables it reads (`env`, zod schemas
 * by variable name) and how they become its configuration object (`read`). The gateway validates
 * every fragment together with its own variables, so one error still names every bad variable.
 */
export interface ConfigFragment<Shape extends z.ZodRawShape, Config> {
  env: Shape;
  read(env: z.output<z.ZodObject<Shape>>): Config;
}

/** Declares a provider's configuration fragment, inferring the types of `read`. */
export function configFragment<Shape extends z.ZodRawShape, Config>(
  env: Shape,
  read: (env: z.output<z.ZodObject<Shape>>) => Config,
): ConfigFragment<Shape, Config> {
  return { env, read };
}
