// The bar across the top: who is logged in, and the way out.

interface Props {
  email: string;
  onLogout: () => void;
}

export function AppHeader({ email, onLogout }: Props) {
  return (
    <header class="topbar">
      <span class="brand">Fleetvisor</span>
      <span class="user">
        <span class="visually-hidden">Logged in as </span>
        <span data-testid="user-email">{email}</span>
      </span>
      <button type="button" data-testid="logout" onClick={onLogout}>
        Log out
      </button>
    </header>
  );
}
