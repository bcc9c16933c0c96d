/**
 * Draws a generation as it streams: each branch path owns a flow of text; a fork appends a
 * parallel block to its branch's flow, with one column per path (labelled with the outline's
 * label and text) whose flow the path's tokens fill side by side; a join closes the columns with
 * a merge bar, and the branch's next tokens (the conclusion) continue below the block. A path
 * that forks again gets its block inside its own column, so nesting shows as nesting.
 */
import type { ServerEvent, WireForkEvent, WireJoinEvent } from '../../src/protocol/index.js';
import { el } from './dom.js';

/** The 12 Multiverse tags, shown as chips rather than as text. */
const TAG = /(<\/?(?:Think|Parallel|Goal|Outline|Path|Conclusion)>)/;

/** An open parallel block: its element and the column of each path. */
interface Block {
  element: HTMLElement;
  columns: Map<string, HTMLElement>;
}

export class MultiverseView {
  /** Where each live branch's text goes. */
  private readonly flows = new Map<string, HTMLElement>();
  /** The open block of each branch that forked (a branch waits on one fork at a time). */
  private readonly blocks = new Map<string, Block>();
  private readonly root: HTMLElement;

  constructor(container: HTMLElement) {
    this.root = el('div', 'flow root');
    container.replaceChildren(this.root);
    this.flows.set('0', this.root);
  }

  /** Paths still decoding. */
  get livePaths(): number {
    let n = 0;
    for (const block of this.blocks.values()) n += [...block.columns.values()].filter((c) => c.classList.contains('live')).length;
    return n;
  }

  apply(event: ServerEvent): void {
    switch (event.type) {
      case 'token':
        return this.write(event.branch, event.text);
      case 'fork':
        return this.fork(event);
      case 'join':
        return this.join(event);
      case 'done':
        return this.write('0', event.tail);
      case 'error':
        return this.error(`${event.code}: ${event.message}`);
    }
  }

  /** An error line at the end of the output. */
  error(message: string): void {
    this.root.append(el('div', 'error', message));
  }

  private write(branch: string, text: string): void {
    const flow = this.flows.get(branch);
    if (!flow || !text) return;
    for (const part of text.split(TAG)) {
      if (!part) continue;
      if (TAG.test(part)) {
        flow.append(el('span', 'tag', part.replace(/[<>]/g, '')));
        continue;
      }
      const last = flow.lastElementChild;
      if (last?.classList.contains('text')) last.append(part);
      else flow.append(el('span', 'text', part));
    }
  }

  private fork(event: WireForkEvent): void {
    const parent = this.flows.get(event.branch);
    if (!parent) return;
    const element = el('section', 'parallel');
    const head = el('div', 'block-head', `fork into ${event.paths.length} paths`);
    if (event.dropped > 0) head.append(el('span', 'dropped', ` (${event.dropped} more outlines dropped)`));
    const grid = el('div', 'columns');
    grid.style.setProperty('--paths', String(event.paths.length));
    const columns = new Map<string, HTMLElement>();
    event.paths.forEach((path, i) => {
      const column = el('article', 'path live');
      column.style.setProperty('--hue', String((200 + i * 67) % 360));
      column.dataset.branch = path.branch;
      const title = el('header', 'path-head');
      title.append(el('span', 'label', path.label), el('span', 'outline', path.outline), el('span', 'status', 'streaming'));
      const flow = el('div', 'flow');
      column.append(title, flow);
      grid.append(column);
      columns.set(path.branch, column);
      this.flows.set(path.branch, flow);
    });
    element.append(head, grid);
    parent.append(element);
    this.blocks.set(event.branch, { element, columns });
  }

  private join(event: WireJoinEvent): void {
    const block = this.blocks.get(event.branch);
    if (!block) return;
    for (const path of event.paths) {
      const column = block.columns.get(path.branch);
      column?.classList.replace('live', 'ended');
      const status = column?.querySelector('.status');
      if (status) status.textContent = `${path.tokens} tokens${path.truncated ? ', truncated' : ''}`;
      this.flows.delete(path.branch);
    }
    block.element.classList.add('merged');
    block.element.append(el('div', 'merge-bar', `merged ${event.paths.length} paths · conclusion below`));
    this.blocks.delete(event.branch);
  }
}
