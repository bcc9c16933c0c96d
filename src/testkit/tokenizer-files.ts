/**
 * Builds the tokenizer of our test checkpoints: a byte-level BPE trained on a small corpus of our
 * own, with the ChatML and Multiverse tags as added tokens, written as the Hugging Face
 * `tokenizer.json` and `tokenizer_config.json` a Qwen2.5-style model ships.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MULTIVERSE_TAGS } from '../multiverse/tags.js';
import { bpeTokenizerJson } from '../model/bpe-tokenizer-json.js';
import { QWEN2_SPLIT_PATTERN } from '../model/split-patterns.js';
import { trainBpe, type TrainedBpe } from './bpe-trainer.js';

/** The training text, written for this project: everyday prose plus some arithmetic. */
export const CORPUS = `The kitchen was quiet in the early morning, and the kettle had just started to hum.
She wrote a short list on the back of an envelope: eggs, bread, two lemons, and a bag of rice.
Every list is a small plan. You decide what you need, then you go and get it, one item at a time.

When a problem is large, it often helps to split it into parts that do not depend on each other.
Each part can be worked on at the same time, and at the end the answers are put back together.
A good plan says what every part should establish before any work on it begins.
If the parts really are independent, nothing is lost by doing them in parallel, and time is saved.

The river ran fast after the rain. Children stood on the bridge and counted the boats below them.
One boat was red, two were blue, and the last one was painted a pale shade of green.
The weather report said the wind would turn to the north by the evening, with colder nights ahead.

To check a sum, add the numbers again in a different order. If both results agree, you can trust it.
Multiplication is repeated addition, and division asks how many times one number fits into another.
Think step by step: first find what is known, then what is asked, and only then start to compute.

37*4 = 148
12+30 = 42
99-17 = 82
144/12 = 12
7*8 = 56
(3+5)*2 = 16
2^10 = 1024
15% of 200 = 30
1000-1 = 999
0.5+0.25 = 0.75
x = 3, y = 4, x*y = 12, x+y = 7

The library opens at nine and closes at six. It is the best place in town to read in the afternoon.
Some visitors come for the newspapers; others sit by the window with a notebook and a cup of tea.
The librarian knows where every book is kept, and she is happy to help anyone who asks.

A café on the corner serves a very good soup. The owner is not naïve about business: she keeps
careful accounts, counts the cash at closing time, and writes the totals into a large green book.
On Monday she sold 48 bowls, on Tuesday 53, and on Wednesday 61, so the total was 48+53+61 = 162.

Questions are answered best when the reasoning is written down. Write the goal, outline the paths,
follow each path to its end, and then state the conclusion that all the paths support together.
If one path fails, say why it failed, because a clear failure is also a useful result.

"Can you carry this?" he asked. "It's heavier than it looks, but I'll manage," she replied.
They're sure we'll arrive before noon; we've checked the map twice and I'd say they're right.

The garden behind the school has six raised beds. In spring the pupils plant beans, carrots,
onions and a row of sunflowers that grow taller than the fence by the end of summer.
Each class looks after one bed, and a chart on the shed door shows whose turn it is to water.

Travelling by train gives you time to think. The fields slide past the window, the stations come
and go, and a long journey becomes a sequence of small moments: a ticket check, a coffee, a tunnel.
When the train finally stops, you notice how much of the day has quietly passed.

Consider a simple puzzle. Three friends share 27 apples equally, then each gives 2 apples away.
How many apples does each friend keep? First, 27/3 = 9. Then 9-2 = 7. So each friend keeps 7.
Another way to see it: together they give away 3*2 = 6 apples, and 27-6 = 21, and 21/3 = 7.
Two different routes reach the same answer, which makes the answer more believable.

Writing software is a lot like building furniture. You measure twice, cut once, and test every
joint before you trust it with any weight. Small pieces that each do one job are easier to check,
easier to replace, and easier to explain to the next person who has to work with them.

In the evening the town square fills with people. Musicians tune their instruments, a baker sells
the last loaves of the day at half price, and older neighbours sit on benches and talk about the
news. Nobody is in a hurry; the clock on the tower strikes eight, and then, much later, ten.

Some numbers are worth remembering: there are 60 seconds in a minute, 60 minutes in an hour,
24 hours in a day, and 7 days in a week, so a week has 7*24 = 168 hours and 168*60 = 10080 minutes.
A year usually has 365 days, and every fourth year has 366, except in most years that end in 00.

Memory is strange. We forget where we put our keys, yet we remember the smell of a kitchen from
childhood or the words of a song we have not heard for twenty years. Perhaps we keep what once
mattered, and we let go of whatever was only needed for a moment.

A map is not the territory, but a good map is still very useful. It leaves out almost everything,
and that is exactly why it helps: it shows only the roads, the rivers and the hills you need to
decide which way to go. A plan for solving a problem works in just the same way.
`;

const CHATML_TOKENS: readonly string[] = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

/** Tokens added after the BPE vocabulary, in id order: ChatML first, then the Multiverse tags. */
export const ADDED_TOKENS: readonly string[] = [...CHATML_TOKENS, ...MULTIVERSE_TAGS];

/** ChatML, Qwen2.5 style without a default system message. */
export const CHATML_TEMPLATE =
  "{%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}";

export interface TokenizerFiles {
  /** Contents of tokenizer.json. */
  tokenizerJson: Record<string, unknown>;
  /** Contents of tokenizer_config.json. */
  tokenizerConfig: Record<string, unknown>;
  /** BPE vocab plus added tokens: the smallest model vocab_size that covers every id. */
  size: number;
  /** Id of each added token. */
  ids: Record<string, number>;
}

// Training the bench-size BPE takes a moment; tests build the tiny one many times.
const trained = new Map<number, TrainedBpe>();

/** Trains (or reuses) the BPE of `bpeVocabSize` entries and builds both tokenizer files. */
export function buildTokenizerFiles(bpeVocabSize: number): TokenizerFiles {
  let bpe = trained.get(bpeVocabSize);
  if (bpe === undefined) {
    bpe = trainBpe(CORPUS, bpeVocabSize);
    trained.set(bpeVocabSize, bpe);
  }
  const ids: Record<string, number> = {};
  ADDED_TOKENS.forEach((content, i) => (ids[content] = bpe.vocab.size + i));
  // The Multiverse tags are ordinary added tokens (not special): they are part of the text a
  // model writes and must survive decoding with special tokens skipped.
  const addedToken = (content: string) => ({
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: CHATML_TOKENS.includes(content),
  });

  const tokenizerJson = bpeTokenizerJson({
    vocab: Object.fromEntries(bpe.vocab),
    merges: bpe.merges,
    added: ADDED_TOKENS.map((content) => ({ id: ids[content], content, special: CHATML_TOKENS.includes(content) })),
    splitPattern: QWEN2_SPLIT_PATTERN,
  });

  const tokenizerConfig = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(ADDED_TOKENS.map((content) => [String(ids[content]), addedToken(content)])),
    additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
    bos_token: null,
    chat_template: CHATML_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: 32768,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
  };

  return { tokenizerJson, tokenizerConfig, size: bpe.vocab.size + ADDED_TOKENS.length, ids };
}

/** Writes tokenizer.json and tokenizer_config.json into `dir` (which must exist). */
export function writeTokenizerFiles(dir: string, files: TokenizerFiles): void {
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2) + '\n');
}
