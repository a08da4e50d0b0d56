"""Load runs: credentials, recording, server sampling, stats, criteria, orchestration."""
