"""One construct per concern; ``stacks.riposte_stack.RiposteStack`` composes them."""
