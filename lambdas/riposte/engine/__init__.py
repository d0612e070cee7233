"""Deciding and carrying out: ``policy`` (scored event -> plan), ``pipeline`` (raw -> plan, pure),
``runner`` (plan -> outcomes through ports) and ``setup`` (configuration checked against the registries).
Pure like the core: no boto3, no urllib3; the world is reached through the ports it is handed."""
