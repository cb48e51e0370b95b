"""Jobs: creation, the doorbell, claiming, signing, leases and completion."""
