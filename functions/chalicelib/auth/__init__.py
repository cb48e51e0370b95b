"""Operators: accounts, passwords, access tokens and the login route."""
