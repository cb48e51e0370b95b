// The fleet list (/vms): every VM of every host in one list, searched,
// filtered and sorted in the browser.
//
// - Loading: GET /api/vms pages through the whole fleet by name, one query
//   per page (never one request per host). The first page is small
//   (FIRST_PAGE) and asked for at once, beside the feed's version, so rows
//   show a round trip sooner; the rest stream in pages of 1,000 and join the
//   list as they come. The host list (GET /api/agents) comes beside
//   it, for the host filter and so that a host's labels are searchable too.
// - Fresh: the fleet's change feed (changeFeed.ts), exactly as the hosts
//   page reads it: a moved version reloads every page into a new list, which
//   replaces the shown one only once it is whole (the list never shrinks
//   half-way through a reload). A fleet bigger than the first page reloads
//   at most every RELOAD_GAP_MS (a VM stopped elsewhere may take up to 10 s
//   to show), so a busy fleet does not keep the page reading it whole. A
//   hidden tab asks nothing.
// - Search: each VM has one lowercased string, made once when it arrives
//   (name, host, state, addresses, labels as key=value, the host's labels,
//   UUID). A search is whitespace-separated terms that must all occur in it,
//   so a keystroke is a filter over those strings; a search that only grows
//   (the usual typing) filters the rows already shown. Sorting happens when
//   the data or the sort order changes, never on a keystroke.
// - Selection: keys (vmKey) that survive reloads while their VM exists.

import { errorMessage, FLEET_PAGE_SIZE, type Api } from '../api';
import type { Agent, FleetVm, VM, VmState } from '../types';
import { createChangeFeed, type PageVisibility } from './changeFeed';
import { vmKey } from './fleet';
import { coalesce } from './poller';
import { createStore } from './store';

export type FleetColumn = 'name' | 'state' | 'host' | 'addresses' | 'labels' | 'vcpus' | 'memory';

export interface FleetSort {
  column: FleetColumn;
  descending: boolean;
}

export interface FleetFilters {
  /** Words that must all occur in a VM's name, host, state, addresses, labels or UUID (any case). */
  search: string;
  state: VmState | '';
  /** One host's VMs only; '' for all. */
  agentId: string;
}

export interface FleetListState {
  /** The first page has arrived (or failed). */
  loaded: boolean;
  /** Every page has arrived. */
  complete: boolean;
  error: string;
  /** VMs loaded so far. */
  total: number;
  hosts: Agent[];
  filters: FleetFilters;
  sort: FleetSort;
  /** The VMs that match the filters, in the sort order. */
  shown: FleetVm[];
  /** Selected VMs by vmKey(). */
  selected: ReadonlySet<string>;
}

export type FleetListApi = Pick<Api, 'listFleet' | 'listAgents' | 'fleetFeed' | 'readFeed'>;

export interface FleetListOptions {
  visibility?: PageVisibility;
  /** The first page's size: small, so the first rows show before the rest has loaded. */
  firstPage?: number;
  pageSize?: number;
  reloadGapMs?: number;
}

export const FIRST_PAGE = 100;
/** The least time between two loads of a fleet bigger than the first page (10 requests for 10,000 VMs). */
export const RELOAD_GAP_MS = 10_000;

interface Row {
  vm: FleetVm;
  key: string;
  /** What a search looks in, lowercased. */
  text: string;
}

function labelWords(labels: Record<string, string> | undefined): string[] {
  return Object.keys(labels ?? {})
    .sort()
    .map((key) => `${key}=${labels?.[key] ?? ''}`);
}

/** One line per field, so a term never matches across two of them. */
export function searchText(vm: FleetVm, hostLabels: Record<string, string> | undefined): string {
  return [vm.name, vm.host_name, vm.state, ...(vm.addresses ?? []), ...labelWords(vm.labels), ...labelWords(hostLabels), vm.uuid]
    .join('\n')
    .toLowerCase();
}

export function searchTerms(search: string): string[] {
  return search.toLowerCase().split(/\s+/).filter((term) => term !== '');
}

const SORT_KEYS: Record<FleetColumn, (vm: FleetVm) => string | number> = {
  name: (vm) => vm.name,
  state: (vm) => vm.state,
  host: (vm) => vm.host_name,
  addresses: (vm) => vm.addresses?.[0] ?? '',
  labels: (vm) => labelWords(vm.labels).join(' '),
  vcpus: (vm) => vm.vcpus,
  memory: (vm) => vm.memory_kib,
};

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function compareKeys(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return collator.compare(String(a), String(b));
}

/** The rows in `sort` order; ties go by name, then host (a stable, predictable order). */
export function sortRows<T extends { vm: FleetVm }>(rows: T[], sort: FleetSort): T[] {
  const key = SORT_KEYS[sort.column];
  const keyed = rows.map((row) => ({ row, key: key(row.vm) }));
  const sign = sort.descending ? -1 : 1;
  keyed.sort(
    (a, b) =>
      sign * compareKeys(a.key, b.key) ||
      collator.compare(a.row.vm.name, b.row.vm.name) ||
      collator.compare(a.row.vm.host_name, b.row.vm.host_name),
  );
  return keyed.map(({ row }) => row);
}

function matches(row: Row, terms: string[], filters: FleetFilters): boolean {
  if (filters.state !== '' && row.vm.state !== filters.state) return false;
  if (filters.agentId !== '' && row.vm.agent_id !== filters.agentId) return false;
  for (const term of terms) if (!row.text.includes(term)) return false;
  return true;
}

/** Whether the rows matching `next` are all among those matching `previous` (typing on: filter what shows). */
function narrows(previous: FleetFilters, next: FleetFilters): boolean {
  return previous.state === next.state && previous.agentId === next.agentId && next.search.startsWith(previous.search);
}

const INITIAL: FleetListState = {
  loaded: false,
  complete: false,
  error: '',
  total: 0,
  hosts: [],
  filters: { search: '', state: '', agentId: '' },
  sort: { column: 'name', descending: false },
  shown: [],
  selected: new Set(),
};

export function createFleetListStore(api: FleetListApi, options: FleetListOptions = {}) {
  const firstPage = options.firstPage ?? FIRST_PAGE;
  const pageSize = options.pageSize ?? FLEET_PAGE_SIZE;
  const reloadGapMs = options.reloadGapMs ?? RELOAD_GAP_MS;
  const store = createStore(INITIAL);
  let stopped = false;
  let vms: FleetVm[] = [];
  /** Every row, in the sort order. */
  let sorted: Row[] = [];
  /** The rows shown, matching the filters (a subset of `sorted`, same order). */
  let shownRows: Row[] = [];

  function hostLabels(): Map<string, Record<string, string>> {
    return new Map(store.get().hosts.map((host) => [host.agent_id, host.labels]));
  }

  /** Rebuilds rows, order and the shown list from `vms` (data changed). */
  function rebuild(change: Partial<FleetListState> = {}): void {
    const labels = hostLabels();
    const rows = vms.map((vm) => ({ vm, key: vmKey(vm.agent_id, vm.uuid), text: searchText(vm, labels.get(vm.agent_id)) }));
    sorted = sortRows(rows, store.get().sort);
    const keys = new Set(rows.map((row) => row.key));
    const selected = new Set([...store.get().selected].filter((key) => keys.has(key)));
    show(sorted, store.get().filters, { ...change, total: vms.length, selected });
  }

  function show(from: Row[], filters: FleetFilters, change: Partial<FleetListState> = {}): void {
    const terms = searchTerms(filters.search);
    shownRows = from.filter((row) => matches(row, terms, filters));
    if (!stopped) store.update(() => ({ ...change, filters, shown: shownRows.map((row) => row.vm) }));
  }

  /** Reads every page; the first load shows each page as it comes, a reload only the whole list. */
  async function loadVms(): Promise<void> {
    const progressive = !store.get().complete;
    const fresh: FleetVm[] = [];
    let cursor: string | null = null;
    try {
      do {
        const page = await api.listFleet(cursor, fresh.length === 0 ? firstPage : pageSize);
        if (stopped) return;
        fresh.push(...page.items);
        cursor = page.next;
        if (progressive && cursor !== null) {
          vms = fresh.slice();
          rebuild({ loaded: true, error: '' });
        }
      } while (cursor !== null);
    } catch (error) {
      if (!stopped) store.update(() => ({ loaded: true, error: errorMessage(error) }));
      return;
    }
    vms = fresh;
    rebuild({ loaded: true, complete: true, error: '' });
  }

  async function loadHosts(): Promise<void> {
    try {
      const hosts = await api.listAgents();
      if (stopped) return;
      store.update(() => ({ hosts }));
      if (vms.length > 0) rebuild();
    } catch {
      // The host filter and host labels wait for the next reload; the VM list says what failed.
    }
  }

  /** When the last load started (the browser's clock); 0 before the first. */
  let lastLoadMs = 0;

  /** A fleet of more than one page reloads at most every `reloadGapMs`: a busy fleet would otherwise keep it reloading. */
  async function spaced(): Promise<void> {
    const wait = lastLoadMs + reloadGapMs - Date.now();
    if (vms.length > firstPage && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  const refresh = coalesce(async () => {
    await spaced();
    if (stopped) return;
    lastLoadMs = Date.now();
    await Promise.all([loadVms(), loadHosts()]);
  });

  const feed = createChangeFeed(api, { visibility: options.visibility, refresh: () => void refresh() });

  /**
   * The first page at once, beside the feed's version (which the full load waits for): rows show a
   * round trip sooner. The full load reads that page again after the version, so a change made
   * between the two reads is not missed.
   */
  async function prefetch(): Promise<void> {
    try {
      const page = await api.listFleet(null, firstPage);
      if (stopped || store.get().loaded) return;
      vms = page.items;
      rebuild({ loaded: true, complete: page.next === null });
    } catch {
      // The full load says what failed.
    }
  }

  function setFilters(change: Partial<FleetFilters>): void {
    const previous = store.get().filters;
    const filters = { ...previous, ...change };
    show(narrows(previous, filters) ? shownRows : sorted, filters);
  }

  return {
    getState: store.get,
    subscribe: store.subscribe,
    start(): void {
      if (!stopped && !store.get().loaded) void prefetch();
      feed.start();
    },
    stop(): void {
      stopped = true;
      feed.stop();
    },
    refresh,
    search: (search: string) => setFilters({ search }),
    setFilters,
    /** Sorts by `column`; the same column again turns the order round. */
    sortBy(column: FleetColumn): void {
      const current = store.get().sort;
      const sort = { column, descending: current.column === column ? !current.descending : false };
      store.update(() => ({ sort }));
      sorted = sortRows(sorted, sort);
      show(sorted, store.get().filters);
    },
    toggle(key: string): void {
      const selected = new Set(store.get().selected);
      if (!selected.delete(key)) selected.add(key);
      store.update(() => ({ selected }));
    },
    /** Selects every VM shown (or clears the selection when `on` is false). */
    selectShown(on: boolean): void {
      store.update(() => ({ selected: on ? new Set(shownRows.map((row) => row.key)) : new Set() }));
    },
    /** The selected VMs, in the order shown. */
    selectedVms(): FleetVm[] {
      const selected = store.get().selected;
      return sorted.filter((row) => selected.has(row.key)).map((row) => row.vm);
    },
    /** A VM as the server answered a change to it (its labels), shown at once. */
    vmChanged(changed: VM): void {
      const key = vmKey(changed.agent_id, changed.uuid);
      vms = vms.map((vm) => (vmKey(vm.agent_id, vm.uuid) === key ? { ...vm, ...changed } : vm));
      rebuild();
    },
  };
}

export type FleetListStore = ReturnType<typeof createFleetListStore>;
