// The fleet list's rows: fixed-height rows of which only those in view (and
// OVERSCAN more each side) are in the page, so 10,000 VMs scroll as easily as
// 50. Headers sort; each row has a checkbox and an action menu. Narrower than
// 40rem a row shows name, state and the menu only (styles.css).

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatMemory } from '../format';
import { vmKey } from '../state/fleet';
import { useNavigate } from '../state/navigation';
import { vmPath } from '../state/router';
import { AppLink } from './AppLink';
import type { FleetColumn, FleetSort } from '../state/fleetList';
import type { AgentStatus, FleetVm, VmAction } from '../types';
import { VM_ACTIONS } from '../vmActions';
import { LabelChips } from './HostLabels';
import { StatusBadge } from './StatusBadge';
import type { PendingKind } from './FleetActionForm';

export const ROW_HEIGHT = 40;
export const OVERSCAN = 8;

const COLUMNS: ReadonlyArray<{ column: FleetColumn; label: string; numeric?: boolean }> = [
  { column: 'name', label: 'Name' },
  { column: 'state', label: 'State' },
  { column: 'host', label: 'Host' },
  { column: 'addresses', label: 'Addresses' },
  { column: 'labels', label: 'Labels' },
  { column: 'vcpus', label: 'vCPUs', numeric: true },
  { column: 'memory', label: 'Memory', numeric: true },
];

interface Props {
  vms: FleetVm[];
  sort: FleetSort;
  selected: ReadonlySet<string>;
  onSort: (column: FleetColumn) => void;
  onToggle: (key: string) => void;
  onSelectShown: (on: boolean) => void;
  /** A row's menu chose something for its VM. */
  onChoose: (kind: PendingKind, vm: FleetVm) => void;
  /** Changes when the filters or the order do: the list then starts again from its top. */
  viewKey: string;
  /** Each host's status by id (GET /api/agents): the fleet query names hosts, not their standing. */
  hostStatus: ReadonlyMap<string, AgentStatus>;
}

/** The rows to put in the page for a scroll position: [first, end). */
export function windowOf(count: number, scrollTop: number, height: number): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const end = Math.min(count, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  return [first, Math.max(first, end)];
}

interface Menu {
  vm: FleetVm;
  /** Below its button, or above it near the bottom of the window. */
  top?: number;
  bottom?: number;
  right: number;
}

/** Room a row menu needs below its button (eight items). */
const MENU_HEIGHT = 300;

function Header({ sort, onSort, allSelected, onSelectShown }: Pick<Props, 'sort' | 'onSort' | 'onSelectShown'> & { allSelected: boolean }) {
  return (
    <div class="fleet-row fleet-head" role="row">
      <span role="columnheader" class="fleet-check">
        <input
          type="checkbox"
          aria-label="Select every VM shown"
          data-testid="fleet-select-all"
          checked={allSelected}
          onChange={(e) => onSelectShown(e.currentTarget.checked)}
        />
      </span>
      {COLUMNS.map(({ column, label, numeric }) => {
        const active = sort.column === column;
        return (
          <span
            key={column}
            role="columnheader"
            class={`fleet-${column}${numeric ? ' num' : ''}`}
            aria-sort={active ? (sort.descending ? 'descending' : 'ascending') : 'none'}
          >
            <button type="button" class="link-button" data-sort={column} onClick={() => onSort(column)}>
              {label}
              {active ? (sort.descending ? ' ▼' : ' ▲') : ''}
            </button>
          </span>
        );
      })}
      <span role="columnheader" class="fleet-menu">
        <span class="visually-hidden">Actions</span>
      </span>
    </div>
  );
}

function Row({ vm, hostStatus, index, checked, onToggle, onMenu }: {
  vm: FleetVm;
  hostStatus: AgentStatus | undefined;
  index: number;
  checked: boolean;
  onToggle: () => void;
  onMenu: (button: HTMLElement) => void;
}) {
  const addresses = vm.addresses ?? [];
  const navigate = useNavigate();
  return (
    <div
      class="fleet-row"
      role="row"
      aria-rowindex={index + 2}
      aria-selected={checked}
      style={{ transform: `translateY(${index * ROW_HEIGHT}px)` }}
      data-testid="fleet-row"
      data-vm-name={vm.name}
      data-vm-uuid={vm.uuid}
      data-host={vm.host_name}
    >
      <span role="cell" class="fleet-check">
        <input type="checkbox" aria-label={`Select ${vm.name}`} checked={checked} onChange={onToggle} />
      </span>
      <span role="rowheader" class="fleet-name" title={vm.name}>
        <AppLink href={vmPath(vm.agent_id, vm.uuid)} onNavigate={navigate} testId="vm-page-link">
          {vm.name}
        </AppLink>
      </span>
      <span role="cell" class="fleet-state">
        <StatusBadge kind="vm" status={vm.state} testId="fleet-vm-state" />
      </span>
      <span role="cell" class="fleet-host" title={vm.host_name}>
        {vm.host_name}
        {hostStatus !== undefined && hostStatus !== 'online' && <span class="muted"> ({hostStatus})</span>}
      </span>
      <span role="cell" class="fleet-addresses" title={addresses.join(', ')}>
        {addresses[0] ?? ''}
        {addresses.length > 1 && <span class="muted"> +{addresses.length - 1}</span>}
      </span>
      <span role="cell" class="fleet-labels">
        <LabelChips labels={vm.labels ?? {}} kind="vm" />
      </span>
      <span role="cell" class="fleet-vcpus num">
        {vm.vcpus}
      </span>
      <span role="cell" class="fleet-memory num">
        {formatMemory(vm.memory_kib)}
      </span>
      <span role="cell" class="fleet-menu">
        <button
          type="button"
          class="menu-button"
          data-action="menu"
          aria-haspopup="menu"
          aria-label={`Actions for ${vm.name}`}
          onClick={(e) => onMenu(e.currentTarget)}
        >
          ⋯
        </button>
      </span>
    </div>
  );
}

/** A row's action menu, fixed on the page beside its button; Escape, a click elsewhere or a scroll closes it. */
function RowMenu({ menu, onChoose, onClose }: { menu: Menu; onChoose: Props['onChoose']; onClose: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.querySelector<HTMLButtonElement>('button:not(:disabled)')?.focus();
    const away = (event: Event) => {
      if (!ref.current?.contains(event.target as Node)) onClose();
    };
    const key = (event: KeyboardEvent) => event.key === 'Escape' && onClose();
    document.addEventListener('mousedown', away);
    document.addEventListener('keydown', key);
    return () => {
      document.removeEventListener('mousedown', away);
      document.removeEventListener('keydown', key);
    };
  }, [onClose]);
  const { vm } = menu;
  const choose = (kind: PendingKind) => {
    onClose();
    onChoose(kind, vm);
  };
  return (
    <div
      ref={ref}
      class="row-menu card"
      role="menu"
      aria-label={`Actions for ${vm.name}`}
      data-testid="fleet-row-menu"
      style={{
        top: menu.top === undefined ? undefined : `${menu.top}px`,
        bottom: menu.bottom === undefined ? undefined : `${menu.bottom}px`,
        right: `${menu.right}px`,
      }}
    >
      {VM_ACTIONS.map(({ action, label, appliesTo }) => (
        <button
          key={action}
          type="button"
          role="menuitem"
          data-action={action}
          disabled={!appliesTo.includes(vm.state)}
          onClick={() => choose(action as VmAction)}
        >
          {label}
        </button>
      ))}
      <button type="button" role="menuitem" data-action="snapshot" onClick={() => choose('snapshot')}>
        Snapshot…
      </button>
      <button type="button" role="menuitem" data-action="label" onClick={() => choose('label')}>
        Labels…
      </button>
    </div>
  );
}

export function FleetTable({ vms, sort, selected, onSort, onToggle, onSelectShown, onChoose, viewKey, hostStatus }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(800);
  const [menu, setMenu] = useState<Menu | null>(null);
  const closeMenu = useMemo(() => () => setMenu(null), []);

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const measure = () => setHeight(element.clientHeight || 800);
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
    setScrollTop(0);
  }, [viewKey]);

  const [first, end] = windowOf(vms.length, scrollTop, height);
  /** More than a window ever holds, so consecutive rows never share a slot. */
  const slots = Math.ceil(height / ROW_HEIGHT) + 2 * OVERSCAN + 2;
  const allSelected = vms.length > 0 && selected.size >= vms.length && vms.every((vm) => selected.has(vmKey(vm.agent_id, vm.uuid)));

  function openMenu(vm: FleetVm, button: HTMLElement): void {
    const rect = button.getBoundingClientRect();
    const right = Math.max(8, window.innerWidth - rect.right);
    const below = rect.bottom + MENU_HEIGHT <= window.innerHeight;
    setMenu(below ? { vm, top: rect.bottom + 4, right } : { vm, bottom: window.innerHeight - rect.top + 4, right });
  }

  return (
    <div
      class="fleet-table"
      role="table"
      aria-label="VMs of every host"
      aria-rowcount={vms.length + 1}
      data-testid="fleet-table"
    >
      <Header sort={sort} onSort={onSort} allSelected={allSelected} onSelectShown={onSelectShown} />
      <div
        ref={scroller}
        class="fleet-scroll"
        data-testid="fleet-scroll"
        onScroll={(e) => {
          setScrollTop(e.currentTarget.scrollTop);
          if (menu) setMenu(null);
        }}
      >
        <div class="fleet-rows" role="rowgroup" style={{ height: `${vms.length * ROW_HEIGHT}px` }}>
          {vms.slice(first, end).map((vm, offset) => {
            const key = vmKey(vm.agent_id, vm.uuid);
            // Keyed by slot, not by VM: a keystroke or a scroll rewrites the rows in the page rather
            // than replacing them (the row holds no state of its own).
            return (
              <Row
                key={(first + offset) % slots}
                vm={vm}
                hostStatus={hostStatus.get(vm.agent_id)}
                index={first + offset}
                checked={selected.has(key)}
                onToggle={() => onToggle(key)}
                onMenu={(button) => openMenu(vm, button)}
              />
            );
          })}
        </div>
      </div>
      {menu && <RowMenu menu={menu} onChoose={onChoose} onClose={closeMenu} />}
    </div>
  );
}
