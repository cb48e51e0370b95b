"""Hosts: enrolment, agent authentication, heartbeats and the hosts routes."""
