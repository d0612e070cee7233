"""CLI subcommands beyond ``score`` and ``run``, each module with ``add_parsers(subparsers, common_parent)`` and
``run(args) -> int`` for ``riposte.cli`` to wire in."""
