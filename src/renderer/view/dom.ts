/**
 * A tiny DOM builder for the views: `h('button', {class: 'x', onclick}, 'Send')`. Text is always
 * set as text (never parsed as HTML), so nothing the core sends can inject markup.
 */

type Child = Node | string | null | undefined | false
type Attr = string | number | boolean | null | undefined | ((event: never) => void)

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Record<string, Attr> | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue
      if (typeof value === 'function') {
        element.addEventListener(name.slice(2), value as EventListener)
      } else if (name === 'class') {
        element.className = String(value)
      } else {
        element.setAttribute(name, value === true ? '' : String(value))
      }
    }
  }
  append(element, ...children)
  return element
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child)
  }
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.textContent = ''
  append(parent, ...children)
}

const ICONS = {
  plus: 'M8 3v10M3 8h10',
  pencil: 'M3 13h2.5L13 5.5 10.5 3 3 10.5V13zM9.5 4l2.5 2.5',
  archive: 'M2.5 3.5h11v3h-11zM3.5 6.5v6h9v-6M6.5 9h3',
  gear: 'M8 5.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM8 1.5v2M8 12.5v2M1.5 8h2M12.5 8h2M3.4 3.4l1.4 1.4M11.2 11.2l1.4 1.4M3.4 12.6l1.4-1.4M11.2 4.8l1.4-1.4',
  close: 'M4 4l8 8M12 4l-8 8',
  up: 'M8 13V3M4 7l4-4 4 4',
} as const

/** A 16px stroke icon; decorative (the button carries the accessible name). */
export function icon(name: keyof typeof ICONS): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.setAttribute('viewBox', '0 0 16 16')
  svg.setAttribute('width', '16')
  svg.setAttribute('height', '16')
  svg.setAttribute('aria-hidden', 'true')
  svg.setAttribute('class', 'icon')
  const path = document.createElementNS(ns, 'path')
  path.setAttribute('d', ICONS[name])
  svg.appendChild(path)
  return svg
}
