/**
 * The curator's checks without an LLM, on hand-written texts: verification (grammar, coverage by
 * numeric facts, independence, answer), the plan's rendering in the layout of our own models, and
 * the input format.
 */
import { describe, expect, it } from 'vitest';
import { renderPlan } from '../src/curator/plan.js';
import { parseTraces, TraceFormatError, type Trace } from '../src/curator/trace.js';
import { verifyConversion } from '../src/curator/verify.js';

const trace: Trace = {
  id: 'pens',
  question: 'A shop sells pens at $3 and notebooks at $5. Ann buys 4 pens and 2 notebooks. What does she pay?',
  reasoning: 'The pens cost 4*3 = 12 dollars.\nThe notebooks cost 2*5 = 10 dollars.\nTogether she pays 12+10 = 22 dollars.\nAnswer: 22',
  answer: '22',
};

const GOOD =
  '<Parallel><Goal><Outline>1: the cost of the pens</Outline><Outline>2: the cost of the notebooks</Outline></Goal>' +
  '<Path>1: The pens cost 4*3 = 12 dollars.</Path><Path>2: The notebooks cost 2*5 = 10 dollars.</Path>' +
  '<Conclusion>Together she pays 12+10 = 22 dollars.</Conclusion></Parallel>\nAnswer: 22';

describe('verifyConversion', () => {
  it('passes a faithful conversion', () => {
    expect(verifyConversion(trace, GOOD)).toEqual([]);
  });

  it('flags tags out of order and blocks left open', () => {
    const swapped = GOOD.replace('<Path>1:', '<Conclusion>1:');
    expect(verifyConversion(trace, swapped)[0].check).toBe('grammar');
    expect(verifyConversion(trace, swapped)[0].message).toMatch(/unexpected <Conclusion> after <\/Goal>/);
    const open = GOOD.replace('</Parallel>', '');
    expect(verifyConversion(trace, open)).toEqual([{ check: 'grammar', message: '1 <Parallel> block(s) never closed' }]);
  });

  it('flags a block of one path and outlines that do not match the paths', () => {
    const one = '<Parallel><Goal><Outline>1: pens</Outline></Goal><Path>1: The pens cost 4*3 = 12 dollars.\nThe notebooks cost 2*5 = 10 dollars.</Path><Conclusion>Together she pays 12+10 = 22 dollars.</Conclusion></Parallel>\nAnswer: 22';
    expect(verifyConversion(trace, one).map((p) => p.message)).toEqual(['block 1 has 1 path; a block needs two or more']);
    const relabelled = GOOD.replace('<Outline>2:', '<Outline>3:');
    expect(verifyConversion(trace, relabelled).map((p) => p.message)).toEqual(['block 1: outline labels [1, 3] do not match path labels [1, 2]']);
  });

  it('flags an original step whose numbers are missing, even when the goal mentions them', () => {
    const dropped = GOOD.replace('The notebooks cost 2*5 = 10 dollars.', 'The notebooks cost 10 dollars.').replace('the cost of the notebooks', '2*5 = 10');
    const problems = verifyConversion(trace, dropped);
    expect(problems).toEqual([{ check: 'coverage', message: 'original step 2 ("The notebooks cost 2*5 = 10 dollars.") is missing: its numbers 2 5 10 do not appear in order' }]);
  });

  it('flags a path that mentions a result computed in a sibling path', () => {
    const crossed =
      '<Parallel><Goal><Outline>1: pens</Outline><Outline>2: notebooks and total</Outline></Goal>' +
      '<Path>1: The pens cost 4*3 = 12 dollars.</Path><Path>2: The notebooks cost 2*5 = 10 dollars.\nTogether she pays 12+10 = 22 dollars.</Path>' +
      '<Conclusion></Conclusion></Parallel>\nAnswer: 22';
    expect(verifyConversion(trace, crossed)).toEqual([{ check: 'independence', message: 'block 1: path 2 mentions 12, a result computed in sibling path 1' }]);
  });

  it('does not flag a number that both paths compute, nor one the question gives', () => {
    const t: Trace = { id: 'x', question: 'Compute 12*2+4*6 and 24', reasoning: '1: 12*2=24\n2: 4*6=24\n24+24=48\nAnswer: 48', answer: '48' };
    const text = '<Parallel><Goal><Outline>1: 12*2</Outline><Outline>2: 4*6</Outline></Goal><Path>1: 12*2=24</Path><Path>2: 4*6=24</Path><Conclusion>24+24=48</Conclusion></Parallel>\nAnswer: 48';
    expect(verifyConversion(t, text)).toEqual([]);
  });

  it('does not flag a sibling result that a path derives in its own equation, and flags one it starts from', () => {
    const t: Trace = { id: 'y', question: 'Compute 32*2+68*8', reasoning: '1: 32*2=30*2+2*2=60+4=64\n2: 68*8=60*8+8*8=480+64=544\n64+544=608\nAnswer: 608', answer: '608' };
    const text = (second: string) =>
      `<Parallel><Goal><Outline>1: 32*2</Outline><Outline>2: 68*8</Outline></Goal><Path>1: 32*2=30*2+2*2=60+4=64</Path><Path>2: ${second}</Path>` +
      '<Conclusion>64+544=608</Conclusion></Parallel>\nAnswer: 608';
    expect(verifyConversion(t, text('68*8=60*8+8*8=480+64=544'))).toEqual([]);
    expect(verifyConversion(t, text('68*8=60*8+8*8=480+64=544, so with 64 it is 608'))).toEqual([
      { check: 'independence', message: 'block 1: path 2 mentions 64, a result computed in sibling path 1' },
    ]);
  });

  it('flags a final answer that is not stated after the last block', () => {
    const inside = GOOD.replace('</Conclusion></Parallel>\nAnswer: 22', '\nAnswer: 22</Conclusion></Parallel>');
    expect(verifyConversion(trace, inside)).toEqual([{ check: 'answer', message: 'the text after the last block does not state the final answer "22"' }]);
    expect(verifyConversion({ ...trace, answer: '2' }, GOOD).map((p) => p.check)).toEqual(['answer']);
  });
});

describe('renderPlan', () => {
  it('writes blocks in the layout of our own models, nested labels included', () => {
    const steps = new Map([
      ['s1', '1: 37*4=30*4+7*4=120+28=148'],
      ['s2', '2: 12*9+85*3'],
      ['s3', '2.1: 12*9=10*9+2*9=90+18=108'],
      ['s4', '2.2: 85*3=80*3+5*3=240+15=255'],
      ['s5', '2: 108+255=363'],
      ['s6', '148+363=511'],
      ['s7', 'Answer: 511'],
    ]);
    const plan = [{ paths: [['s1'], ['s2', { paths: [['s3'], ['s4']], conclusion: ['s5'] }]], conclusion: ['s6'] }, 's7'];
    const texts = [
      { outlines: ['37*4', '12*9+85*3'], conclusion: '' },
      { outlines: ['12*9', '85*3'], conclusion: 'Adding:' },
    ];
    expect(renderPlan(plan, steps, texts)).toBe(
      '<Parallel><Goal><Outline>1: 37*4</Outline><Outline>2: 12*9+85*3</Outline></Goal>' +
        '<Path>1: 37*4=30*4+7*4=120+28=148</Path>' +
        '<Path>2: 12*9+85*3<Parallel><Goal><Outline>2.1: 12*9</Outline><Outline>2.2: 85*3</Outline></Goal>' +
        '<Path>2.1: 12*9=10*9+2*9=90+18=108</Path><Path>2.2: 85*3=80*3+5*3=240+15=255</Path>' +
        '<Conclusion>Adding:\n108+255=363</Conclusion></Parallel></Path>' +
        '<Conclusion>148+363=511</Conclusion></Parallel>\nAnswer: 511',
    );
  });
});

describe('parseTraces', () => {
  it('reads id, question (or prompt), reasoning and answer, numbers included', () => {
    const text = '{"id": 7, "prompt": "Q?", "reasoning": "a\\nb", "answer": 3}\n\n{"id": "b", "question": "R?", "reasoning": "c", "answer": " x "}\n';
    expect(parseTraces(text)).toEqual([
      { id: '7', question: 'Q?', reasoning: 'a\nb', answer: '3' },
      { id: 'b', question: 'R?', reasoning: 'c', answer: 'x' },
    ]);
  });

  it('names the line of a bad trace', () => {
    expect(() => parseTraces('{"id": 1, "question": "q", "reasoning": "r", "answer": 1}\n{"id": 2, "question": "q"}')).toThrow(
      new TraceFormatError(2, 'needs a non-empty reasoning string'),
    );
    expect(() => parseTraces('{"id": 1, "question": "q", "reasoning": "r", "answer": 1}\n{"id": 1, "question": "q", "reasoning": "r", "answer": 1}')).toThrow(/line 2: id "1" appears twice/);
    expect(() => parseTraces('nope')).toThrow(/line 1: not JSON/);
  });
});
