"""Guided deployments (issue 16): manifests, typed inputs, first-boot rendering, and the `vm.deploy` job.

manifests.py  manifest schema, YAML loading, built-ins (builtin/*.yaml), what the API serves
inputs.py     input types → JSON Schema fragments (with x- keywords) and the server's per-field check
sshkeys.py    OpenSSH public keys parsed (type inside = type outside, key sizes) and fingerprinted
shacrypt.py   SHA-512 crypt for the cloud-init password
"""
