"""Fleetvisor hypervisor agent."""
