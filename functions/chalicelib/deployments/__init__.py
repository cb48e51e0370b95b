"""Guided deployments (issue 16): manifests, typed inputs, first-boot rendering, and the `vm.deploy` job.

manifests.py  manifest schema (manifest-schema.json), YAML loading, built-ins (builtin/*.yaml), views
inputs.py     input types → JSON Schema fragments (with x- keywords) and the server's per-field check
sshkeys.py    OpenSSH public keys parsed (type inside = type outside, key sizes) and fingerprinted
shacrypt.py   SHA-512 crypt for the cloud-init password
cloudinit.py  user-data (cloud-config, checked against cloud-init's vendored schema) and meta-data
unattend.py   Autounattend.xml, checked against our own grammar of what we emit
plan.py       a deployment request → the vm.deploy arguments, or every refusal by field
library.py    built-in and owner-stored manifests; ssh_keys.py: keys in the account; routes.py

The deploy contract (/work/notes/deploy-contract.md, shared with the agent's
agent/fleetvisor_agent/jobs/deploy.py), as this side settled its details:

- `vm.deploy` args are exactly the contract's keys. `cdroms` order: a Windows profile's installer
  ISO first (`{"source": {"url", "sha256", "max_bytes"}}` or `{"source": {"pool", "volume",
  "sha256"}}`, sha256 lower-case), then the generated medium: `{"generated": {"label": "cidata",
  "files": {"user-data", "meta-data"}}}` (no network-config: DHCP), or for Windows
  `{"generated": {"label": "UNATTEND", "files": {"Autounattend.xml"}}}`. `boot` is always
  ["hd", "cdrom"] (a blank disk boots nothing, so the ISO does until Windows is installed).
  `first_boot` is always given: `{"marker": "FLEETVISOR-FIRST-BOOT", "timeout_seconds"}`.
- The arguments, as stored, hold placeholders `FV-SEALED-<32 hex>` where a secret goes; the signed
  payload the agent receives has the values in their place (sealing.py), never a placeholder.
- The canonical arguments stay under plan.MAX_ARGS_BYTES (44 KiB), so the signed payload fits the
  agent's 64 Ki-character envelope limit.
- First-boot lines on ttyS0 (Ubuntu, first-boot.sh): for each installer in order, up to 20
  `FLEETVISOR-FIRST-BOOT installer=<id> line=<base64>` lines of its output, then its
  `installer=<id> exit=<code>` line; then `FLEETVISOR-FIRST-BOOT done`. An exit code outside
  0/1/2/3/124 is reported as 2 (after its retries). Windows writes only
  `FLEETVISOR-FIRST-BOOT done`, to COM1, at the first automatic logon after setup.
- Progress on the lease call: `{"step", "percent"?, "detail"?}` with no other keys; `percent` a whole
  number 0..100, `detail` printable text of at most 200 characters; anything else is 400
  `invalid_progress` and the stored progress stays as it was.
"""
