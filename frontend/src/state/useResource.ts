// Hooks that load something from the API for a component: one value
// (`useResource`) or a cursor-paged list (`usePagedList`). Only the latest
// request's answer is applied, and nothing is applied after unmount.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../api';
import type { Page } from '../types';

export interface Resource<T> {
  data: T | null;
  error: string;
  loading: boolean;
  reload: () => Promise<void>;
  /** Changes the loaded value in place, e.g. to show one revoked row. */
  update: (change: (data: T) => T) => void;
}

interface Latest {
  /** Bumped by every request; an answer applies only if it is still current. */
  seq: number;
  mounted: boolean;
}

function useLatest(): { current: Latest } {
  const latest = useRef<Latest>({ seq: 0, mounted: true });
  useEffect(() => {
    latest.current.mounted = true;
    return () => {
      latest.current.mounted = false;
    };
  }, []);
  return latest;
}

export function useResource<T>(load: () => Promise<T>): Resource<T> {
  const [state, setState] = useState<{ data: T | null; error: string; loading: boolean }>({
    data: null,
    error: '',
    loading: true,
  });
  const loader = useRef(load);
  loader.current = load;
  const latest = useLatest();

  const reload = useCallback(async () => {
    const seq = ++latest.current.seq;
    const live = () => latest.current.mounted && seq === latest.current.seq;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await loader.current();
      if (live()) setState({ data, error: '', loading: false });
    } catch (error) {
      if (live()) setState((s) => ({ ...s, error: errorMessage(error), loading: false }));
    }
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  const update = useCallback((change: (data: T) => T) => {
    setState((s) => (s.data === null ? s : { ...s, data: change(s.data) }));
  }, []);

  return { ...state, reload, update };
}

export interface PagedList<T> {
  items: T[];
  /** Cursor of the next page; null when everything is shown. */
  next: string | null;
  loading: boolean;
  error: string;
  loadMore: () => Promise<void>;
  reload: () => Promise<void>;
  update: (change: (items: T[]) => T[]) => void;
}

interface PagedState<T> {
  items: T[];
  next: string | null;
  loading: boolean;
  error: string;
}

function append<T>(items: T[], more: T[], idOf: (item: T) => string): T[] {
  const known = new Set(items.map(idOf));
  return [...items, ...more.filter((item) => !known.has(idOf(item)))];
}

/**
 * A list fetched page by page. `key` names the query (e.g. the filters): when
 * it changes, the list starts again from the first page.
 */
export function usePagedList<T>(
  fetchPage: (cursor: string | null) => Promise<Page<T>>,
  idOf: (item: T) => string,
  key = '',
): PagedList<T> {
  const [state, setState] = useState<PagedState<T>>({ items: [], next: null, loading: true, error: '' });
  const fetcher = useRef(fetchPage);
  fetcher.current = fetchPage;
  const latest = useLatest();

  const fetchInto = useCallback(
    async (cursor: string | null, merge: (items: T[], page: T[]) => T[]) => {
      const seq = ++latest.current.seq;
      const live = () => latest.current.mounted && seq === latest.current.seq;
      setState((s) => ({ ...s, loading: true, error: '' }));
      try {
        const page = await fetcher.current(cursor);
        if (!live()) return;
        setState((s) => ({ items: merge(s.items, page.items), next: page.next, loading: false, error: '' }));
      } catch (error) {
        if (live()) setState((s) => ({ ...s, loading: false, error: errorMessage(error) }));
      }
    },
    [],
  );

  const reload = useCallback(() => fetchInto(null, (_old, page) => page), [fetchInto]);

  useEffect(() => {
    setState({ items: [], next: null, loading: true, error: '' });
    void reload();
  }, [reload, key]);

  const loadMore = useCallback(async () => {
    if (state.next === null || state.loading) return;
    await fetchInto(state.next, (items, page) => append(items, page, idOf));
  }, [fetchInto, state.next, state.loading, idOf]);

  const update = useCallback((change: (items: T[]) => T[]) => {
    setState((s) => ({ ...s, items: change(s.items) }));
  }, []);

  return { ...state, loadMore, reload, update };
}
