// "Require my approval for new hosts" (PATCH /api/me): when on, a host that
// enrols with one of your tokens waits on the Hosts page until you approve it.
// The box shows what the server has saved (what is being saved, while it is);
// a refused change flips it back.

import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { useAction } from '../state/useAction';
import type { Resource } from '../state/useResource';
import type { Account } from '../types';
import { FormError } from './FormError';

interface Props {
  api: Pick<Api, 'updateMe'>;
  me: Resource<Account>;
}

export function HostApprovalSetting({ api, me }: Props) {
  const action = useAction();
  const [saved, setSaved] = useState('');
  const [saving, setSaving] = useState<boolean | null>(null);
  const required = saving ?? me.data?.require_host_approval ?? false;

  function change(wanted: boolean) {
    setSaved('');
    setSaving(wanted);
    void action
      .run(async () => {
        const account = await api.updateMe({ require_host_approval: wanted });
        me.update(() => account);
      })
      .then((ok) => {
        setSaving(null);
        if (ok) setSaved(wanted ? 'Saved: new hosts wait for your approval.' : 'Saved: new hosts join at once.');
      });
  }

  return (
    <section class="card" aria-labelledby="host-approval-title">
      <h2 id="host-approval-title">New hosts</h2>
      <label class="check">
        <input
          type="checkbox"
          name="require_host_approval"
          checked={required}
          disabled={me.data === null || action.busy}
          aria-describedby="host-approval-hint"
          onChange={(event) => change(event.currentTarget.checked)}
        />
        Require my approval for new hosts
      </label>
      <p id="host-approval-hint" class="muted hint">
        A host that enrols with one of your tokens then waits on the Hosts page, without jobs, until you approve it.
        Another agent key asking to take over a known host name always waits for you.
      </p>
      <FormError message={action.error} />
      {saved && (
        <p class="success" role="status" data-testid="form-success">
          {saved}
        </p>
      )}
    </section>
  );
}
