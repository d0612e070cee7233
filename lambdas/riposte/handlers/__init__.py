"""Lambda entry points. Each handler decodes its event, calls the core, and reports; nothing else."""
