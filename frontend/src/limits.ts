// The server's length limits on what the forms send, so an input stops where
// the server would refuse (and never grows a body past the route's byte
// limit, which answered "The request body is larger than 4096 bytes").
// Each number is the server's; where it lives is named beside it.

/** functions/chalicelib/auth/logic.py MAX_EMAIL */
export const MAX_EMAIL = 254;
/** functions/chalicelib/auth/passwords.py MAX_LENGTH */
export const MAX_PASSWORD = 1024;
/** A person's display name: auth/logic.py parse_name */
export const MAX_USER_NAME = 100;
/** auth/api_keys.py create */
export const MAX_KEY_NAME = 100;
/** An enrolment token's note: agents/routes.py create_enrollment_token */
export const MAX_TOKEN_NOTE = 200;
/** A snapshot's name (validate.LIBVIRT_NAME_RE) and description: vms/actions.py */
export const MAX_SNAPSHOT_NAME = 64;
export const MAX_SNAPSHOT_DESCRIPTION = 1000;
/** Typed to confirm a VM's deletion (a VM name: vms/logic.py MAX_VM_NAME) or a host's (validate.NAME_RE). */
export const MAX_VM_NAME = 200;
export const MAX_HOST_NAME = 63;
/** A host's labels, one key=value a line: agents/logic.py MAX_LABELS, LABEL_KEY_RE, 200 a value. */
export const MAX_LABELS_TEXT = 20 * (63 + 1 + 200 + 1);
/** The audit page's action filter: audit/routes.py reads 100 characters of it */
export const MAX_AUDIT_ACTION = 100;
/** An SSH key's name (deployments/ssh_keys.py add) and an OpenSSH public key line (deployments/sshkeys.py MAX_LINE). */
export const MAX_SSH_KEY_NAME = 100;
export const MAX_PUBLIC_KEY = 16384;
/** A clone's name: vms/actions.py _clone (validate.LIBVIRT_NAME_RE). */
export const MAX_CLONE_NAME = 64;
/** A manifest's text: deployments/manifests.py MAX_BYTES. */
export const MAX_MANIFEST_BYTES = 64 * 1024;
