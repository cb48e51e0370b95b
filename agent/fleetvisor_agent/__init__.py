"""Fleetvisor hypervisor agent: pulls signed jobs from the control plane and runs them through libvirt."""

__version__ = "0.1.0"
