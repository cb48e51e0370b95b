"""VMs: the inventory hosts report, and the lifecycle actions operators ask for."""
