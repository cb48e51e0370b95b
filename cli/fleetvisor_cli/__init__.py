"""Fleetvisor's command line client of the operator API."""
