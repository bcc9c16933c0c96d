/**
 * Draws a generation as it streams: each branch path owns a flow of text; a fork appends a
 * parallel block to its branch's flow, with one column per path (labelled with the outline's
 * label and text) whose flow the path's tokens fill side by side; a join closes the columns with
 * a merge bar, and the branch's next tokens (the conclusion) continue below the block. A path
 * that forks again gets its block inside its own column, so nesting shows as nesting.
 */
import type { ServerEvent, WireForkEvent, WireJoinEvent } from '../../src/protocol/index.js';
import { BranchTree } from '../../src/rx/branch-tree.js';
import { el } from './dom.js';

/** The 12 Multiverse tags, shown as chips rather than as text. */
const TAG = /(<\/?(?:Think|Parallel|Goal|Outline|Path|Conclusion)>)/;

/** What the view draws for a branch: where its text goes; a path's column; its open block's element. */
interface Drawn {
  flow: HTMLElement;
  column?: HTMLElement;
  block?: HTMLElement;
}

export class MultiverseView {
  /** Which branches still decode, and what is drawn for each. */
  private readonly tree = new BranchTree<Drawn>('0');
  private readonly root: HTMLElement;

  constructor(container: HTMLElement) {
    this.root = el('div', 'flow root');
    container.replaceChildren(this.root);
    this.tree.root.view = { flow: this.root };
  }

  /** Paths still decoding. */
  get livePaths(): number {
    return this.tree.live().filter((b) => b.view?.column).length;
  }

  apply(event: ServerEvent): void {
    switch (event.type) {
      case 'token': {
        const branch = this.tree.token(event);
        return branch?.live ? this.write(branch.view, event.text) : undefined;
      }
      case 'fork':
        return this.fork(event);
      case 'join':
        return this.join(event);
      case 'done':
        return this.write(this.tree.root.view, event.tail);
      case 'error':
        return this.error(`${event.code}: ${event.message}`);
    }
  }

  /** An error line at the end of the output. */
  error(message: string): void {
    this.root.append(el('div', 'error', message));
  }

  private write(drawn: Drawn | undefined, text: string): void {
    if (!drawn || !text) return;
    const { flow } = drawn;
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
    const parent = this.tree.get(event.branch);
    const fork = this.tree.fork(event);
    if (!parent?.live || !parent.view || !fork) return;
    const element = el('section', 'parallel');
    const head = el('div', 'block-head', `fork into ${event.paths.length} paths`);
    if (event.dropped > 0) head.append(el('span', 'dropped', ` (${event.dropped} more outlines dropped)`));
    const grid = el('div', 'columns');
    grid.style.setProperty('--paths', String(event.paths.length));
    event.paths.forEach((path, i) => {
      const column = el('article', 'path live');
      column.style.setProperty('--hue', String((200 + i * 67) % 360));
      column.dataset.branch = path.branch;
      const title = el('header', 'path-head');
      title.append(el('span', 'label', path.label), el('span', 'outline', path.outline), el('span', 'status', 'streaming'));
      const flow = el('div', 'flow');
      column.append(title, flow);
      grid.append(column);
      fork.paths[i]!.view = { flow, column };
    });
    element.append(head, grid);
    parent.view.flow.append(element);
    parent.view.block = element;
  }

  private join(event: WireJoinEvent): void {
    const drawn = this.tree.get(event.branch)?.view;
    const block = drawn?.block;
    this.tree.join(event);
    if (!drawn || !block) return;
    for (const path of event.paths) {
      const column = this.tree.get(path.branch)?.view?.column;
      column?.classList.replace('live', 'ended');
      const status = column?.querySelector('.status');
      if (status) status.textContent = `${path.tokens} tokens${path.truncated ? ', truncated' : ''}`;
    }
    block.classList.add('merged');
    block.append(el('div', 'merge-bar', `merged ${event.paths.length} paths · conclusion below`));
    drawn.block = undefined;
  }
}
