"""Pure Block Kit builders: data in, blocks (dicts) out. No client, no I/O."""
