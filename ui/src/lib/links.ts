/**
 * The app's window never navigates: a link may only hand a phone number or an e-mail address to
 * the system (the shell passes `tel:` and `mailto:` to the system's handler and refuses every
 * other navigation). Any other link the UI might show (a website in a field value) does nothing
 * here instead of replacing the app.
 */
export function linkMayNavigate(href: string | null): boolean {
  return href !== null && /^(tel|mailto):/i.test(href.trim());
}

/** Stops clicks on links that are not `tel:`/`mailto:` before the webview follows them. */
export function guardLinks(root: Pick<Document, "addEventListener" | "removeEventListener">): () => void {
  const onClick = (e: Event) => {
    const target = e.target as Element | null;
    const link = target && typeof target.closest === "function" ? target.closest("a[href]") : null;
    if (link && !linkMayNavigate(link.getAttribute("href"))) e.preventDefault();
  };
  root.addEventListener("click", onClick, true);
  root.addEventListener("auxclick", onClick, true);
  return () => {
    root.removeEventListener("click", onClick, true);
    root.removeEventListener("auxclick", onClick, true);
  };
}
