"""The agent's distribution: `GET /agent/install.sh` and the agent's wheel, both without authentication."""
