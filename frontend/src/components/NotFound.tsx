// A path the app has no page for (or a page this user may not see).

interface Props {
  title?: string;
  message?: string;
  onNavigate: (path: string) => void;
}

export function NotFound({
  title = 'Page not found',
  message = 'There is no page at this address.',
  onNavigate,
}: Props) {
  return (
    <main class="layout">
      <section class="card" data-testid="not-found">
        <h1>{title}</h1>
        <p>{message}</p>
        <a
          href="/"
          onClick={(event) => {
            event.preventDefault();
            onNavigate('/');
          }}
        >
          Go to hosts
        </a>
      </section>
    </main>
  );
}
