"""Built-in plugins: the default pieces, registered through the same hooks as any plugin."""
