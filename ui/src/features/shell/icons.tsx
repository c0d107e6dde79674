// Small inline icons (no icon font, no external requests: the CSP allows only our own files).
import type { EntityType } from "../../lib/ipc/bindings/EntityType";

const common = {
  width: 18,
  height: 18,
  viewBox: "0 0 24 24",
  fill: "none",
  stroke: "currentColor",
  strokeWidth: 1.8,
  strokeLinecap: "round" as const,
  strokeLinejoin: "round" as const,
  "aria-hidden": true,
};

export function EntityIcon({ type }: { type: EntityType }) {
  switch (type) {
    case "lead":
      return (
        <svg {...common}>
          <path d="M12 3l2.6 5.3 5.9.9-4.3 4.1 1 5.8L12 16.4 6.8 19.1l1-5.8L3.5 9.2l5.9-.9z" />
        </svg>
      );
    case "deal":
      return (
        <svg {...common}>
          <rect x="3" y="7" width="18" height="13" rx="2" />
          <path d="M8 7V5a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2M3 13h18" />
        </svg>
      );
    case "contact":
      return (
        <svg {...common}>
          <circle cx="12" cy="8" r="4" />
          <path d="M4 21c0-4.4 3.6-7 8-7s8 2.6 8 7" />
        </svg>
      );
    case "company":
      return (
        <svg {...common}>
          <path d="M4 21V5a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v16M16 9h2a2 2 0 0 1 2 2v10M2 21h20" />
          <path d="M8 7h4M8 11h4M8 15h4" />
        </svg>
      );
  }
}

export function HistoryIcon() {
  return (
    <svg {...common}>
      <path d="M3 12a9 9 0 1 0 3-6.7L3 8" />
      <path d="M3 3v5h5M12 7v5l3 3" />
    </svg>
  );
}

export function OverviewIcon() {
  return (
    <svg {...common}>
      <rect x="3" y="3" width="7" height="7" rx="1.5" />
      <rect x="14" y="3" width="7" height="7" rx="1.5" />
      <rect x="3" y="14" width="7" height="7" rx="1.5" />
      <rect x="14" y="14" width="7" height="7" rx="1.5" />
    </svg>
  );
}

export function SyncIcon({ spinning }: { spinning?: boolean }) {
  return (
    <svg {...common} className={spinning ? "spin" : undefined}>
      <path d="M21 12a9 9 0 0 1-15.5 6.2L3 16M3 12a9 9 0 0 1 15.5-6.2L21 8" />
      <path d="M21 3v5h-5M3 21v-5h5" />
    </svg>
  );
}

export function SearchIcon() {
  return (
    <svg {...common} width={16} height={16}>
      <circle cx="11" cy="11" r="7" />
      <path d="M20 20l-3.5-3.5" />
    </svg>
  );
}

export function Logo() {
  return (
    <svg width="28" height="28" viewBox="0 0 64 64" aria-hidden="true">
      <defs>
        <linearGradient id="kg" x1="0" y1="0" x2="0" y2="1">
          <stop offset="0" stopColor="#3b5bdb" />
          <stop offset="1" stopColor="#1c2f8a" />
        </linearGradient>
      </defs>
      <rect width="64" height="64" rx="14" fill="url(#kg)" />
      <rect x="16" y="16" width="29" height="24" rx="3" fill="#9fb2f5" />
      <rect x="18" y="20" width="29" height="24" rx="3" fill="#c9d4fb" />
      <rect x="21" y="25" width="29" height="24" rx="3" fill="#fff" />
      <rect x="25" y="31" width="21" height="2.5" rx="1.2" fill="#3b5bdb" />
      <rect x="25" y="37" width="17" height="2" rx="1" fill="#8ea2e8" />
      <rect x="25" y="42" width="13" height="2" rx="1" fill="#8ea2e8" />
    </svg>
  );
}
