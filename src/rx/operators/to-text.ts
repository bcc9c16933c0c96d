/**
 * A branch's (or a stage's) running text.
 */
import { scan, type OperatorFunction } from 'rxjs';
import type { TokenEvent } from '../events.js';

/**
 * Emits the text so far after each token: the concatenation of the token texts. Text held back at
 * the very end (a possible stop string) arrives only with the result or done event, whose `text`
 * is the final word.
 *
 *   tokens$:   -a-b-c-|          texts: 'He', 'llo', '!'
 *   toText()
 *   output:    -x-y-z-|          'He', 'Hello', 'Hello!'
 *
 * @example
 * ```ts
 * import { of } from 'rxjs';
 * import { toText, type TokenEvent } from 'multiverse-rx';
 * const token = (text: string): TokenEvent => ({ type: 'token', branch: '0', tokenId: 0, position: 0, text, logprob: 0 });
 * of(token('He'), token('llo'), token('!')).pipe(toText()).subscribe(console.log);
 * // Logs:
 * // He
 * // Hello
 * // Hello!
 * ```
 *
 * On a branch: `branch.tokens$.pipe(toText())`.
 */
export function toText(): OperatorFunction<TokenEvent, string> {
  return scan((text, token) => text + token.text, '');
}
