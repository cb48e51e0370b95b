// Running one thing the operator asked for (a form submit, a button press):
// whether it is under way and why it failed, for the component to show.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../api';

export interface Action {
  busy: boolean;
  error: string;
  setError: (message: string) => void;
  /** Runs `task`; resolves true when it succeeded, false when it threw. */
  run: (task: () => Promise<void>) => Promise<boolean>;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const run = useCallback(async (task: () => Promise<void>) => {
    setBusy(true);
    setError('');
    try {
      await task();
      return true;
    } catch (failure) {
      if (mounted.current) setError(errorMessage(failure));
      return false;
    } finally {
      if (mounted.current) setBusy(false);
    }
  }, []);

  return { busy, error, setError, run };
}
