/** The one DOM helper the viewer needs: an element with a class and, optionally, text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** The page's element with this id; throws when index.html lacks it (a broken page, not a user error). */
export function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`viewer: index.html has no #${id}`);
  return node as T;
}
