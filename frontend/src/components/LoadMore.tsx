// "Load more" under a cursor-paged list, while the server has more to give.

import type { PagedList } from '../state/useResource';

interface Props {
  list: Pick<PagedList<unknown>, 'next' | 'loading' | 'loadMore'>;
  testId: string;
}

export function LoadMore({ list, testId }: Props) {
  if (list.next === null) return null;
  return (
    <button type="button" class="more" data-testid={testId} disabled={list.loading} onClick={() => void list.loadMore()}>
      Load more
    </button>
  );
}
