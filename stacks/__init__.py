"""CDK infrastructure. ``riposte_stack.RiposteStack`` composes the constructs in this package."""
