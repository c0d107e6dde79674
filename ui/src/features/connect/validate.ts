import type { MessageKey } from "../../lib/i18n";

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Checks a pasted webhook URL before it is sent: `https://<portal>/rest/<user id>/<code>/`
 * (plain http only for a local test server). Returns the message to show, or null when the URL
 * looks right; the portal itself is asked only after that.
 */
export function webhookProblem(input: string): MessageKey | null {
  const text = input.trim();
  // "portal.bitrix24.ru/rest/1/code/": an address without its scheme; ask for https.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && /^[^\s/]+\.[^\s/]+\/\S*$/.test(text)) return "connect.httpsOnly";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "connect.badUrl";
  }
  if (url.protocol === "http:" && !LOOPBACK.test(url.hostname)) return "connect.httpsOnly";
  if (url.protocol !== "https:" && url.protocol !== "http:") return "connect.badUrl";
  const parts = url.pathname.split("/").filter((p) => p !== "");
  if (parts.length < 3 || parts[0] !== "rest" || !/^\d+$/.test(parts[1] ?? "")) return "connect.badUrl";
  return null;
}
