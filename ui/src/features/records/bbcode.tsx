import type { ReactNode } from "react";

/** Tags that become formatting; every other known BBCode tag is dropped, keeping its text. */
const FORMAT: Record<string, "strong" | "em" | "u" | "s"> = { b: "strong", i: "em", u: "u", s: "s" };

/** The BBCode tags Bitrix24 writes into comments and descriptions. Anything else in brackets is text. */
const KNOWN = new Set([
  "b", "i", "u", "s", "url", "quote", "code", "color", "size", "font", "list", "*", "p", "img", "video",
  "user", "disk", "table", "tr", "td", "th", "left", "right", "center", "justify", "br", "background",
]);

const TAG = /\[(\/?)([a-z*]+)(?:=[^\]\n]*)?\]/gi;

interface Frame {
  tag: string;
  children: ReactNode[];
}

/**
 * Bitrix24 BBCode as React elements: [B], [I], [U], [S] become bold, italic, underline and strike;
 * links, quotes, colours, lists and the rest keep only their text. Everything is rendered as text
 * nodes, so nothing in a value can become HTML or a link.
 */
export function renderBbcode(text: string): ReactNode[] {
  const root: Frame = { tag: "", children: [] };
  const stack: Frame[] = [root];
  let key = 0;
  let last = 0;
  const top = () => stack[stack.length - 1] as Frame;
  const close = (frame: Frame) => {
    const element = FORMAT[frame.tag];
    const parent = top();
    if (element) {
      const El = element;
      parent.children.push(<El key={key++}>{frame.children}</El>);
    } else {
      parent.children.push(...frame.children);
    }
  };
  for (const m of text.matchAll(TAG)) {
    const [whole, slash, rawName] = m;
    const name = (rawName ?? "").toLowerCase();
    if (!KNOWN.has(name)) continue;
    const at = m.index ?? 0;
    if (at > last) top().children.push(text.slice(last, at));
    last = at + whole.length;
    if (name === "br") {
      top().children.push("\n");
    } else if (name === "*") {
      top().children.push("\n• ");
    } else if (slash) {
      const i = stack.map((f) => f.tag).lastIndexOf(name);
      if (i > 0) {
        while (stack.length > i) {
          const frame = stack.pop() as Frame;
          close(frame);
        }
      }
    } else {
      stack.push({ tag: name, children: [] });
    }
  }
  if (last < text.length) top().children.push(text.slice(last));
  while (stack.length > 1) close(stack.pop() as Frame);
  return root.children;
}

/** The text of a value without its BBCode, e.g. for a tooltip. */
export function stripBbcode(text: string): string {
  return text.replace(TAG, (whole, _slash: string, name: string) => {
    const n = name.toLowerCase();
    if (!KNOWN.has(n)) return whole;
    if (n === "br") return "\n";
    if (n === "*") return "\n• ";
    return "";
  });
}
