import { createGraphQLError } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';

/**
 * 413, and the connection closed after it: the rest of the body is never read, so the socket
 * cannot carry a keep-alive client's next request (which would otherwise wait behind it and fail).
 */
const tooLarge = (limit: number) =>
  createGraphQLError(`The request body is larger than ${limit} bytes (MAX_BODY_BYTES).`, {
    extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', http: { status: 413, headers: { connection: 'close' } } },
  });

const badLength = () =>
  createGraphQLError('The Content-Length header is not a single non-negative integer.', {
    extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
  });

/** Exactly one decimal number: anything else (signs, lists such as "10, 20") is refused, not skipped. */
const CONTENT_LENGTH = /^\d+$/;

/**
 * Reads a body of unknown length (chunked transfer encoding), refusing it as soon as it passes
 * `limit` bytes, without waiting for the rest.
 */
async function readAtMost(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > limit) throw tooLarge(limit);
    chunks.push(value);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * MAX_BODY_BYTES, in place of yoga's `maxRequestBodySize` (which the gateway turns off). Yoga
 * pipes every body through a counting TransformStream, even one whose Content-Length is already
 * checked: under load that stream plumbing (a pipeline, an AbortController aborted with a
 * DOMException at its end) was about a tenth of the gateway's CPU. Node's HTTP parser never hands
 * on more bytes than a valid Content-Length announces, so a body with one needs only the header
 * check; only a body without one (chunked) is counted as it is read.
 */
export function useBodyLimit(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const declared = request.headers.get('content-length');
      if (declared !== null) {
        if (!CONTENT_LENGTH.test(declared)) throw badLength();
        if (Number(declared) > limit) throw tooLarge(limit);
        return;
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser(async (original) => {
        if (!original.body) return parse(original);
        const bytes = await readAtMost(original.body, limit);
        return parse(new fetchAPI.Request(original.url, { method: original.method, headers: original.headers, signal: original.signal, body: bytes }));
      });
    },
  };
}
