// Small pieces every view uses: the modal dialog, an API error shown as its problem's title and
// detail, dates, counts, the loading and empty states, pagination.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";

/**
 * A modal dialog (the native <dialog>: the page behind it is inert, focus stays inside, Escape
 * closes it). Mounted only while open, so what it showed — a new key's secret — leaves the
 * DOM when it closes.
 */
export function Dialog({ title, onClose, children, wide = false, closeOnEscape = true }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement;
    dialog.showModal();
    return () => {
      dialog.close();
      // Back where the person was, as a dialog should leave them.
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    };
  }, []);
  const cancel = (event) => {
    event.preventDefault();
    if (closeOnEscape) onClose();
  };
  return (
    <dialog ref={ref} class={wide ? "dialog wide" : "dialog"} aria-labelledby="dialog-title" onCancel={cancel}>
      <h2 id="dialog-title">{title}</h2>
      {children}
    </dialog>
  );
}

/** An API refusal beside what caused it: the problem's title and detail, and field errors. */
export function ErrorNote({ error }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <strong>{error.title ?? "Something went wrong"}</strong>
      {error.detail ? <p>{error.detail}</p> : null}
      {error.errors?.length ? (
        <ul>
          {error.errors.map((e) => (
            <li key={e.field}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** An RFC 3339 time as a person reads it; `fallback` where there is none. */
export function When({ at, fallback = "Never" }) {
  if (!at) return <span class="muted">{fallback}</span>;
  return <time dateTime={at}>{dateFormat.format(new Date(at))}</time>;
}

export const count = (n) => (typeof n === "number" ? n.toLocaleString() : "–");

export function Loading({ what }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** First page / Next page over a cursor-paginated list. */
export function Pager({ label, cursor, onFirst, onNext, atFirst }) {
  if (atFirst && !cursor) return null;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" onClick={onFirst} disabled={atFirst}>
        First page
      </button>
      <button type="button" onClick={onNext} disabled={!cursor}>
        Next page
      </button>
    </nav>
  );
}

/**
 * One page of a cursor-paginated list at `path` with `params` (a new `params` starts again
 * at the first page), fetched again whenever `reloads` changes. `first` and `next` move;
 * the pages seen are kept as their cursors, so First page needs no cursor of its own.
 */
export function useCursorPages(path, params, reloads) {
  const key = JSON.stringify(params);
  const [seen, setSeen] = useState({ key, trail: [null] });
  const trail = seen.key === key ? seen.trail : [null];
  const cursor = trail[trail.length - 1];
  // A reload keeps the page shown until the new one arrives; another page or filter does not.
  const at = `${key} ${cursor}`;
  const [answer, setAnswer] = useState({ at: null, page: null, error: null });
  useEffect(() => {
    let live = true;
    const query = new URLSearchParams(params);
    if (cursor) query.set("cursor", cursor);
    api("GET", `${path}?${query}`).then(
      (page) => live && setAnswer({ at, page, error: null }),
      (error) => live && setAnswer({ at, page: null, error }),
    );
    return () => {
      live = false;
    };
  }, [path, at, reloads]);
  const current = answer.at === at ? answer : { page: null, error: null };
  return {
    page: current.page,
    error: current.error,
    atFirst: trail.length === 1,
    first: () => setSeen({ key, trail: [null] }),
    next: () => current.page?.next_cursor && setSeen({ key, trail: [...trail, current.page.next_cursor] }),
  };
}
