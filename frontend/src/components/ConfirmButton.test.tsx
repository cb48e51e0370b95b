import { fireEvent, render, screen } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';
import { ConfirmButton } from './ConfirmButton';

function renderButton() {
  const onConfirm = vi.fn();
  render(
    <ConfirmButton
      action="force-stop"
      label="Force stop"
      question="Force stop web1? Unsaved data is lost."
      confirmLabel="Yes, force stop web1"
      onConfirm={onConfirm}
    />,
  );
  return { onConfirm, opener: screen.getByRole('button', { name: 'Force stop' }) };
}

describe('ConfirmButton', () => {
  it('asks first, saying what is lost, and runs only on the confirming press', () => {
    const { onConfirm, opener } = renderButton();
    fireEvent.click(opener);

    expect(onConfirm).not.toHaveBeenCalled();
    const dialog = screen.getByRole('alertdialog');
    expect(dialog.textContent).toContain('Unsaved data is lost.');
    expect(opener.getAttribute('aria-expanded')).toBe('true');
    fireEvent.click(screen.getByRole('button', { name: 'Yes, force stop web1' }));
    expect(onConfirm).toHaveBeenCalledTimes(1);
    expect(screen.queryByRole('alertdialog')).toBeNull();
  });

  it('focuses Cancel; Escape closes it, runs nothing and gives focus back', () => {
    const { onConfirm, opener } = renderButton();
    fireEvent.click(opener);
    const cancel = screen.getByRole('button', { name: 'Cancel' });
    expect(document.activeElement).toBe(cancel);

    fireEvent.keyDown(cancel, { key: 'Escape' });
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(document.activeElement).toBe(opener);
    expect(onConfirm).not.toHaveBeenCalled();
  });

  it('Cancel closes it without running', () => {
    const { onConfirm, opener } = renderButton();
    fireEvent.click(opener);
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(onConfirm).not.toHaveBeenCalled();
  });

  it('closes on Escape pressed on its own button too', () => {
    const { onConfirm, opener } = renderButton();
    fireEvent.click(opener);
    fireEvent.keyDown(opener, { key: 'Escape' });
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(onConfirm).not.toHaveBeenCalled();
  });
});
