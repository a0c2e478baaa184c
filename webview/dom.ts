// DOM building for the dashboard without innerHTML: every string, from the engine or a user, goes
// in through textContent or a property, so a model type such as `<img onerror=…>` stays text.

export type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  id?: string;
  title?: string;
  role?: string;
  /** aria-* and data-* attributes, and plain attributes such as `scope` or `colspan`. */
  attrs?: Record<string, string>;
  on?: Partial<Record<keyof HTMLElementEventMap | string, (e: Event) => void>>;
}

/** `h('div', { class: 'tile' }, 'text', child)`: an element with text and children appended. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...children: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, props?: Props | null, ...children: Child[]): HTMLElement;
export function h(tag: string, props: Props | null = null, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  if (props) {
    if (props.class) el.className = props.class;
    if (props.id) el.id = props.id;
    if (props.title) el.title = props.title;
    if (props.role) el.setAttribute('role', props.role);
    if (props.attrs) for (const [k, v] of Object.entries(props.attrs)) el.setAttribute(k, v);
    if (props.on) for (const [k, fn] of Object.entries(props.on)) if (fn) el.addEventListener(k, fn);
  }
  append(el, children);
  return el;
}

function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

/** Replaces an element's children. */
export function replace(el: Node, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
}

/**
 * Sets text only when it changed (a live tick touches few nodes). An element holding one text node
 * keeps it and changes its data: no node made, no child-list mutation for the page's observers.
 */
export function setText(el: Node, text: string): void {
  const only = el.firstChild;
  if (only !== null && only === el.lastChild && only.nodeType === Node.TEXT_NODE && text !== '') {
    if ((only as Text).data !== text) (only as Text).data = text;
    return;
  }
  if (el.textContent !== text) el.textContent = text;
}
