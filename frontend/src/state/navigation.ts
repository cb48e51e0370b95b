// How a component deep in a page moves to another of the app's paths without
// every page between it and the shell passing `onNavigate` down: the shell
// provides its router's navigate; outside one (a component rendered alone in a
// test) it is the app's router.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { appRouter } from './router';

export const NavigateContext = createContext<(path: string) => void>((path) => appRouter.navigate(path));

export function useNavigate(): (path: string) => void {
  return useContext(NavigateContext);
}
