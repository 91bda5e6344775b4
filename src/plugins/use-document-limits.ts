import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import type { DocumentNode, GraphQLError, ParseOptions, Source, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { BadUserInputError } from '../errors.js';

/** How large a document a caller may send (README "Limits"; each one an environment variable). */
export interface DocumentLimits {
  /** Deepest selection nesting (MAX_DEPTH); introspection's own nesting does not count. */
  maxDepth: number;
  /** Aliased fields in one operation, fragments included (MAX_ALIASES). */
  maxAliases: number;
  /** Lexical tokens in the document (MAX_TOKENS); checked while parsing, so a huge document stops early. */
  maxTokens: number;
  /** Directives in one operation (MAX_DIRECTIVES). */
  maxDirectives: number;
}

/**
 * Refuses oversized documents before anything executes, with graphql-armor's rules: the token
 * limit stops the parser as soon as it is passed (a 24 MB alias bomb is never fully parsed), and
 * depth, alias and directive limits run with validation. Every refusal is BAD_USER_INPUT with HTTP
 * 400 and a message naming the limit; it is the caller's doing, so it is never logged with a stack.
 * A document nested deeply enough to overflow the parser's stack (possible only with a very high
 * MAX_TOKENS) is refused the same way instead of surfacing as an internal error.
 */
export function useDocumentLimits(limits: DocumentLimits): Plugin {
  const refuse = (error: GraphQLError) => BadUserInputError.forRequest(error.message.replace(/^Syntax Error: /, ''));
  const report = (context: ValidationContext | null, error: GraphQLError) => context?.reportError(refuse(error));
  const rule = { onReject: [report], propagateOnRejection: false, exposeLimits: true };
  const rules = [
    maxDepthRule({ ...rule, n: limits.maxDepth, ignoreIntrospection: true }),
    maxAliasesRule({ ...rule, n: limits.maxAliases }),
    maxDirectivesRule({ ...rule, n: limits.maxDirectives }),
  ];
  const parse = (source: string | Source, options?: ParseOptions): DocumentNode => {
    const parser = new MaxTokensParserWLexer(source, {
      ...options,
      n: limits.maxTokens,
      exposeLimits: true,
      onReject: [
        (_context, error) => {
          throw refuse(error);
        },
      ],
    });
    try {
      return parser.parseDocument();
    } catch (error) {
      if (error instanceof RangeError) throw BadUserInputError.forRequest('The document is nested too deeply to parse.');
      throw error;
    }
  };
  return {
    onParse({ setParseFn }) {
      setParseFn(parse);
    },
    onValidate({ addValidationRule }) {
      for (const validationRule of rules) addValidationRule(validationRule);
    },
  };
}
