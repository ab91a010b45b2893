"""Core: domain codes, units, errors, seed streams, ids, the ledger and safe file writes."""
