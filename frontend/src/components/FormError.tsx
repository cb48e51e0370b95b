// Why a form (or a row's action) did not go through, in the server's words.

interface Props {
  message: string;
  testId?: string;
}

export function FormError({ message, testId = 'form-error' }: Props) {
  if (!message) return null;
  return (
    <p class="error" role="alert" data-testid={testId}>
      {message}
    </p>
  );
}
