"""Fleetvisor control plane: everything Chalice packages besides app.py."""
