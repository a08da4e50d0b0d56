"""Where PostgreSQL comes from: embedded (default), a URL, or testcontainers."""
