"""Export: the output schema, writers, manifest and dataset card."""
