// Whether the component is still on the page (an answer arriving later is dropped).

import { useEffect, useRef } from 'preact/hooks';

export function useMounted(): { current: boolean } {
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  return mounted;
}
